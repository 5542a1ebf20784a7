// The control method `info` (vifctl info): what an operator asks first about
// a host's vifd. Built from plain inputs, so the daemon only registers it and
// tests need no daemon: the version, when vifd started, the state of each
// connection, the configured networks and whether their bridges exist.
import type { HostConfig } from '../config/schema.js';
import type { ConnectionState, InfoResult, LibvirtState } from '../api/protocol.js';
import { describeVlan } from '../model/vlan.js';

// The result's shape is the protocol's (vifctl reads it): one definition, in src/api/protocol.ts.
export type { ConnectionState, InfoResult, LibvirtState } from '../api/protocol.js';

export interface InfoInputs {
  readonly version: string;
  /** Date.now() when the daemon started. */
  readonly startedAtMs: number;
  /** The config in force (after a reload, the new one). */
  readonly config: () => HostConfig;
  readonly libvirt: () => LibvirtState;
  readonly ovsdb: () => ConnectionState;
  /** Whether OVSDB has a bridge of that name; null when that cannot be known (OVSDB not connected). */
  readonly bridgeExists: (bridge: string) => boolean | null;
  /** VIF counts by state, as `vifctl status` would show them. */
  readonly vifStates?: () => readonly { readonly state: string }[];
  readonly now?: () => number;
}

export function describeInfo(inputs: InfoInputs): InfoResult {
  const config = inputs.config();
  const now = (inputs.now ?? Date.now)();
  const vifs: Record<string, number> = {};
  for (const { state } of inputs.vifStates?.() ?? []) vifs[state] = (vifs[state] ?? 0) + 1;
  const { host, port } = config.metrics.listen;
  return {
    version: inputs.version,
    node: process.version,
    pid: process.pid,
    startedAt: new Date(inputs.startedAtMs).toISOString(),
    uptimeSeconds: Math.max(0, Math.floor((now - inputs.startedAtMs) / 1000)),
    hypervisor: config.hypervisor,
    controlSocket: config.controlSocket,
    libvirt: { uri: config.libvirt.uri, state: inputs.libvirt() },
    ovsdb: { socket: config.ovsdb.socket, state: inputs.ovsdb() },
    metrics: { listen: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` },
    networks: [...config.networks.values()].map((network) => ({
      name: network.name, bridge: network.bridge, vlan: describeVlan(network.vlan), mtu: network.mtu ?? null,
      bridgeExists: inputs.bridgeExists(network.bridge),
    })),
    vifs,
  };
}

/** The control handler: register it as `info` beside status and gc. */
export function infoHandler(inputs: InfoInputs): (params: unknown) => Promise<InfoResult> {
  return () => Promise.resolve(describeInfo(inputs));
}
