// libvirt's domain event codes as named values (libvirt-domain.h, 9.0).
// Pure: the connection decodes raw callbacks into these types.

export const EVENT_ID = { lifecycle: 0, deviceRemoved: 15, deviceAdded: 19, deviceRemovalFailed: 22, metadataChange: 23 } as const;
/** virDomainMetadataType: 2 is an element in a namespace of its own (vifd's intent). */
const METADATA_TYPES = ['description', 'title', 'element'] as const;

const LIFECYCLE = ['defined', 'undefined', 'started', 'suspended', 'resumed', 'stopped', 'shutdown', 'pmsuspended', 'crashed'] as const;
export type LifecycleEvent = (typeof LIFECYCLE)[number];

const DETAILS: Record<LifecycleEvent, readonly string[]> = {
  defined: ['added', 'updated', 'renamed', 'from-snapshot'],
  undefined: ['removed', 'renamed'],
  started: ['booted', 'migrated', 'restored', 'from-snapshot', 'wakeup'],
  suspended: ['paused', 'migrated', 'ioerror', 'watchdog', 'restored', 'from-snapshot', 'api-error', 'postcopy', 'postcopy-failed'],
  resumed: ['unpaused', 'migrated', 'from-snapshot', 'postcopy', 'postcopy-failed'],
  stopped: ['shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from-snapshot'],
  shutdown: ['finished', 'guest', 'host'],
  pmsuspended: ['memory', 'disk'],
  crashed: ['panicked', 'crashloaded'],
};

const STATES = ['nostate', 'running', 'blocked', 'paused', 'shutdown', 'shutoff', 'crashed', 'pmsuspended'] as const;
export type DomainState = (typeof STATES)[number] | 'unknown';

export interface DomainIdentity {
  readonly name: string;
  readonly uuid: string;
  /** -1 when the domain is not running. */
  readonly id: number;
}

export type DomainEvent =
  | { readonly type: 'lifecycle'; readonly event: LifecycleEvent | 'unknown'; readonly detail: string; readonly code: number;
    readonly detailCode: number; readonly domain: DomainIdentity; }
    | { readonly type: 'device-added' | 'device-removed' | 'device-removal-failed'; readonly device: string; readonly domain: DomainIdentity }
    | { readonly type: 'metadata-change'; readonly metadata: string; readonly namespace: string | null; readonly domain: DomainIdentity };

export const metadataTypeName = (type: number): string => METADATA_TYPES[type] ?? String(type);

/** Names a lifecycle event and its detail; codes newer than this table stay visible as numbers. */
export function lifecycleNames(event: number, detail: number): { event: LifecycleEvent | 'unknown'; detail: string } {
  const name = LIFECYCLE[event];
  if (name === undefined) return { event: 'unknown', detail: String(detail) };
  return { event: name, detail: DETAILS[name][detail] ?? String(detail) };
}

export function domainStateName(state: number): DomainState {
  return STATES[state] ?? 'unknown';
}

/** One line for operators: `stopped/destroyed web1 (uuid) id=-1`. */
export function formatEvent(event: DomainEvent): string {
  const who = `${JSON.stringify(event.domain.name)} ${event.domain.uuid} id=${event.domain.id}`;
  if (event.type === 'lifecycle') return `${event.event}/${event.detail} ${who}`;
  if (event.type === 'metadata-change') return `metadata-change ${who} ${event.metadata}${event.namespace === null ? '' : ` ${event.namespace}`}`;
  return `${event.type} ${who} device=${JSON.stringify(event.device)}`;
}
