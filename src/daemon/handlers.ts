// The control socket's methods: thin adapters from JSON-RPC params (untrusted
// local input, validated here) to the engine. Used by the libvirt hook
// (prepare, release) and by vifctl (status, gc, reconcile).
import { verdictOf } from '../api/hook-socket.js';
import type { HookHandler } from '../api/hook-socket.js';
import type { Engine } from '../engine/engine.js';
import type { EngineLog } from '../engine/types.js';
import { InvalidInputError, VifdError } from '../model/errors.js';
import type { HotPlug } from '../sources/libvirt/hotplug.js';
import { prepareFromHook, releaseFromHook } from '../sources/libvirt/hook-requests.js';
import type { Readiness } from './readiness.js';
import { vifStatus } from './status-view.js';

/** How long status waits for a daemon that is still reaching ovsdb-server. */
const STATUS_WAIT_MS = 5_000;

export class NotReadyError extends VifdError {
  readonly code = 'not-ready';
}

async function switchWithin(readiness: Readiness | undefined, ms: number): Promise<void> {
  if (readiness === undefined || readiness.switchIsReady) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new NotReadyError(`vifd has not reached ovsdb-server yet (waited ${ms} ms); its log says why`)); }, ms);
  });
  try {
    await Promise.race([readiness.switchReady(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type Handler = (params: unknown) => Promise<unknown>;

function field<T>(params: unknown, name: string, check: (value: unknown) => value is T, what: string): T {
  const value = typeof params === 'object' && params !== null ? (params as Record<string, unknown>)[name] : undefined;
  if (!check(value)) throw new InvalidInputError(`expected ${what}`, { field: name });
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isOptionalBoolean = (value: unknown): value is boolean | undefined => value === undefined || typeof value === 'boolean';
const isOptionalString = (value: unknown): value is string | undefined => value === undefined || typeof value === 'string';
const isOptionalIndex = (value: unknown): value is number | undefined => value === undefined || (typeof value === 'number' && Number.isInteger(value));

function attachParams(params: unknown): { domain: string; request: { network: string; mac?: string; vlan?: string } } {
  const mac = field(params, 'mac', isOptionalString, 'mac as a string');
  const vlan = field(params, 'vlan', isOptionalString, 'vlan as a string');
  return {
    domain: field(params, 'domain', isString, 'the domain name or UUID'),
    request: { network: field(params, 'network', isString, 'the network name'), ...(mac === undefined ? {} : { mac }), ...(vlan === undefined ? {} : { vlan }) },
  };
}

function detachParams(params: unknown): { domain: string; which: { index?: number; mac?: string } } {
  const index = field(params, 'index', isOptionalIndex, 'index as an integer');
  const mac = field(params, 'mac', isOptionalString, 'mac as a string');
  if ((index === undefined) === (mac === undefined)) throw new InvalidInputError('give exactly one of index and mac', { field: 'index' });
  return { domain: field(params, 'domain', isString, 'the domain name or UUID'), which: index === undefined ? { mac: mac ?? '' } : { index } };
}

/** `stopped` tells the libvirt source that a VM's release ran (it forgets what it knew of it running). */
export function controlHandlers(engine: Engine, log: EngineLog, hotPlug?: HotPlug, readiness?: Readiness, stopped?: (uuid: string) => void): Record<string, Handler> {
  const hotPlugger = (): HotPlug => {
    if (hotPlug === undefined) throw new InvalidInputError('hot-plug is not available on this daemon', { field: 'method' });
    return hotPlug;
  };
  return {
    attach: (params) => { const { domain, request } = attachParams(params); return hotPlugger().attach(domain, request); },
    detach: (params) => { const { domain, which } = detachParams(params); return hotPlugger().detach(domain, which); },
    ping: () => Promise.resolve({ ok: true }),
    prepare: (params) => engine.prepare(prepareFromHook(field(params, 'xml', isString, 'the domain XML as a string'))),
    release: (params) => engine.release(releaseFromHook(field(params, 'xml', isString, 'the domain XML as a string'), stopped)),
    status: async () => {
      await switchWithin(readiness, STATUS_WAIT_MS);
      return { vifs: engine.status().map(vifStatus) };
    },
    gc: async (params) => {
      const dryRun = field(params, 'dryRun', isOptionalBoolean, 'dryRun as a boolean') ?? false;
      const orphans = await engine.gc({ dryRun });
      if (!dryRun && orphans.length > 0) log.info(`gc removed ${orphans.length} orphan VIF(s)`);
      return { dryRun, orphans: orphans.map((report) => vifStatus({ ...report, domain: null })) };
    },
    reconcile: async () => engine.reconcileAll('vifctl reconcile'),
  };
}

/**
 * The hook socket's handler (the shim's fast path, no node in it): prepare and
 * release as through the control socket; migrate and restore pass (vifd never
 * rewrites the XML). A refusal is the error's one-line message.
 */
export function hookHandler(engine: Engine, stopped?: (uuid: string) => void): HookHandler {
  return (op, xml) => (op === 'prepare' ? verdictOf(() => engine.prepare(prepareFromHook(xml)))
    : op === 'release' ? verdictOf(() => engine.release(releaseFromHook(xml, stopped)))
      : Promise.resolve({ ok: true }));
}
