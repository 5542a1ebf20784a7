// The control socket's methods: thin adapters from JSON-RPC params (untrusted
// local input, validated here) to the engine. Used by the libvirt hook
// (prepare, release) and by vifctl (status, gc, reconcile).
import type { Engine, EngineLog } from '../engine/engine.js';
import { InvalidInputError } from '../model/errors.js';
import { vifStatus } from './status-view.js';

type Handler = (params: unknown) => Promise<unknown>;

function field<T>(params: unknown, name: string, check: (value: unknown) => value is T, what: string): T {
  const value = typeof params === 'object' && params !== null ? (params as Record<string, unknown>)[name] : undefined;
  if (!check(value)) throw new InvalidInputError(`expected ${what}`, { field: name });
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isOptionalBoolean = (value: unknown): value is boolean | undefined => value === undefined || typeof value === 'boolean';

export function controlHandlers(engine: Engine, log: EngineLog): Record<string, Handler> {
  return {
    ping: () => Promise.resolve({ ok: true }),
    prepare: (params) => engine.prepare(field(params, 'xml', isString, 'the domain XML as a string')),
    release: (params) => engine.release(field(params, 'xml', isString, 'the domain XML as a string')),
    status: () => Promise.resolve({ vifs: engine.status().map(vifStatus) }),
    gc: async (params) => {
      const dryRun = field(params, 'dryRun', isOptionalBoolean, 'dryRun as a boolean') ?? false;
      const orphans = await engine.gc({ dryRun });
      if (!dryRun && orphans.length > 0) log.info(`gc removed ${orphans.length} orphan VIF(s)`);
      return { dryRun, orphans: orphans.map((report) => vifStatus({ ...report, domain: null })) };
    },
    reconcile: async () => engine.reconcileAll('vifctl reconcile'),
  };
}
