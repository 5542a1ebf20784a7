// The control socket's methods: thin adapters from JSON-RPC params (untrusted
// local input, validated by api/protocol.ts's parsers) to the engine. Used by
// the libvirt hook (prepare, release) and by vifctl (status, gc, reconcile).
import { verdictOf } from '../api/hook-socket.js';
import type { HookHandler } from '../api/hook-socket.js';
import { PARAMS, attachParams, detachParams } from '../api/protocol.js';
import type { ControlMethod, MethodHandlers } from '../api/protocol.js';
import type { Engine } from '../engine/engine.js';
import type { EngineLog } from '../engine/types.js';
import { InvalidInputError, VifdError } from '../model/errors.js';
import type { HotPlug } from '../sources/libvirt/hotplug.js';
import { checkMigrationFromHook, prepareFromHook, releaseFromHook } from '../sources/libvirt/hook-requests.js';
import type { XenHotplug } from '../sources/xen-hotplug/daemon-side.js';
import type { Readiness } from './readiness.js';
import { vifStatus } from './status-view.js';

/** How long status waits for a daemon that is still reaching ovsdb-server. */
const STATUS_WAIT_MS = 5_000;
/** A Xen hotplug call waits for the switch within the hook's own bound (25 s). */
const XEN_HOTPLUG_WAIT_MS = 20_000;

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

/** Every method but info (daemon/info.ts answers it); each must answer its protocol result. */
/** `stopped` tells the libvirt source that a VM's release ran (it forgets what it knew of it running). */
/** `xen`: the Xen hotplug source (the `xen-hotplug` method); without it the method is refused. */
export function controlHandlers(engine: Engine, log: EngineLog, hotPlug?: HotPlug, readiness?: Readiness, stopped?: (uuid: string) => void,
  xen?: XenHotplug): MethodHandlers<Exclude<ControlMethod, 'info'>> {
  const hotPlugger = (): HotPlug => {
    if (hotPlug === undefined) throw new InvalidInputError('hot-plug is not available on this daemon', { field: 'method' });
    return hotPlug;
  };
  const xenHotplug = async (params: unknown) => {
    const request = PARAMS['xen-hotplug'](params);
    if (xen === undefined) throw new InvalidInputError('Xen hotplug is not available on this daemon', { field: 'method' });
    // Fake bridges and owned ports are read from the replica: it must be loaded.
    await switchWithin(readiness, XEN_HOTPLUG_WAIT_MS);
    return xen.handle(request);
  };
  return {
    attach: (params) => { const { domain, request } = attachParams(params); return hotPlugger().attach(domain, request); },
    detach: (params) => { const { domain, which } = detachParams(params); return hotPlugger().detach(domain, which); },
    ping: () => Promise.resolve({ ok: true }),
    prepare: (params) => engine.prepare(prepareFromHook(PARAMS.prepare(params).xml)),
    release: (params) => engine.release(releaseFromHook(PARAMS.release(params).xml, stopped)),
    status: async () => {
      await switchWithin(readiness, STATUS_WAIT_MS);
      return { vifs: engine.status().map(vifStatus) };
    },
    gc: async (params) => {
      const dryRun = PARAMS.gc(params).dryRun ?? false;
      const orphans = await engine.gc({ dryRun });
      if (!dryRun && orphans.length > 0) log.info(`gc removed ${orphans.length} orphan VIF(s)`);
      return { dryRun, orphans: orphans.map((report) => vifStatus({ ...report, domain: null })) };
    },
    reconcile: async () => engine.reconcileAll('vifctl reconcile'),
    // Replaced by the SR-IOV wiring's (daemon.ts) on a host with SR-IOV networks.
    'choose-vfs': (params) => {
      PARAMS['choose-vfs'](params);
      return Promise.reject(new InvalidInputError('this vifd has no SR-IOV network (its config has no sriov: block, or it was added by a reload: restart vifd)', { field: 'network' }));
    },
    'xen-hotplug': xenHotplug,
  };
}

/**
 * The hook socket's handler (the shim's fast path, no node in it): prepare and
 * release as through the control socket; migrate is refused for a VM with an
 * SR-IOV VF that has no virtio failover twin, else passes (vifd never
 * rewrites the XML). A refusal is the error's one-line message.
 */
export function hookHandler(engine: Engine, stopped?: (uuid: string) => void): HookHandler {
  return (op, xml) => (op === 'prepare' ? verdictOf(() => engine.prepare(prepareFromHook(xml)))
    : op === 'release' ? verdictOf(() => engine.release(releaseFromHook(xml, stopped)))
      : verdictOf(() => checkMigrationFromHook(xml)));
}
