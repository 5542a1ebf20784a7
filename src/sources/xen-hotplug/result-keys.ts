// The keys the hook writes back, per toolstack, as each one waits for them:
// - libxl: on success `hotplug-status=connected` in the backend node (vif
//   only, as Xen's vif scripts do); on refusal `hotplug-error=<reason>` and
//   `hotplug-status=error` there, plus a non-zero exit. offline/remove: nothing.
// - xenopsd: on success `/xapi/<uuid>/hotplug/<domid>/vif/<devid>/{vif,hotplug=online}`
//   and `hotplug-status=connected` (vif only); on refusal `hotplug-error` in the
//   backend node, which xenopsd watches; on remove the keys it waits to see gone.
// A success also clears an earlier attempt's `hotplug-error`, which xenopsd
// would otherwise still read as this plug failing.
import type { HotplugInvocation } from './invocation.js';
import type { HotplugContext } from './read-request.js';

export interface KeyChanges {
  readonly write: readonly (readonly [path: string, value: string])[];
  readonly remove: readonly string[];
}

const NONE: KeyChanges = { write: [], remove: [] };
const MAX_REASON_CHARS = 512;

/** One line, bounded: what a toolstack's log shows of it. */
export function xenstoreReason(reason: string): string {
  const line = reason.replace(/[^\x20-\x7e]+/g, ' ').trim();
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS - 3)}...` : line;
}

export function successKeys(invocation: HotplugInvocation, context: HotplugContext | undefined): KeyChanges {
  const backend = invocation.backendPath;
  if (invocation.action === 'ignore') return NONE;
  if (invocation.action === 'unplug') {
    if (invocation.type !== 'vif' || context?.toolstack !== 'xenopsd' || context.hotplugPath === undefined) return NONE;
    return { write: [], remove: [`${context.hotplugPath}/hotplug`, `${context.hotplugPath}/vif`, `${backend}/hotplug-status`] };
  }
  if (invocation.type !== 'vif') return { write: [], remove: [`${backend}/hotplug-error`] };
  const connected = [`${backend}/hotplug-status`, 'connected'] as const;
  if (context?.toolstack === 'xenopsd' && context.hotplugPath !== undefined) {
    return {
      write: [[`${context.hotplugPath}/vif`, invocation.device], [`${context.hotplugPath}/hotplug`, 'online'], connected],
      remove: [`${backend}/hotplug-error`],
    };
  }
  return { write: [connected], remove: [`${backend}/hotplug-error`] };
}

export function refusalKeys(backendPath: string, toolstack: HotplugContext['toolstack'] | undefined, reason: string): KeyChanges {
  const error = [`${backendPath}/hotplug-error`, xenstoreReason(reason)] as const;
  if (toolstack === 'xenopsd') return { write: [error], remove: [] };
  return { write: [error, [`${backendPath}/hotplug-status`, 'error']], remove: [] };
}
