// `vifctl info`: the daemon's own account of itself (src/daemon/info.ts
// builds it, api/protocol.ts declares it): version, uptime, connections, networks and their bridges.
import { parseArgs } from 'node:util';
import type { InfoResult } from '../api/protocol.js';
import { DAEMON_OPTIONS, callDaemon, daemonCallOptions } from './daemon-calls.js';
import type { DaemonCallOptions, Output } from './daemon-calls.js';
import { formatTable } from './table.js';

export function parseInfoArgs(argv: readonly string[]): DaemonCallOptions {
  const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: DAEMON_OPTIONS });
  if (positionals.length > 0) throw new Error(`unexpected argument ${JSON.stringify(positionals[0])}`);
  return daemonCallOptions(values);
}

/** 93784 -> "1d 2h 3m 4s"; leading zero units are left out. */
export function formatUptime(seconds: number): string {
  const units: [number, string][] = [[86_400, 'd'], [3_600, 'h'], [60, 'm'], [1, 's']];
  let left = Math.max(0, Math.floor(seconds));
  const parts: string[] = [];
  for (const [size, unit] of units) {
    const count = Math.floor(left / size);
    left -= count * size;
    if (count > 0 || parts.length > 0 || size === 1) parts.push(`${count}${unit}`);
  }
  return parts.join(' ');
}

const bridgeText = (exists: boolean | null): string => (exists === null ? 'unknown (OVSDB not connected)' : exists ? 'yes' : 'MISSING');

export function formatInfo(info: InfoResult, client: string): string {
  const vifs = Object.entries(info.vifs).map(([state, count]) => `${count} ${state}`).join(', ');
  const lines = [
    `vifd ${info.version} (node ${info.node}, pid ${info.pid}); vifctl ${client}`,
    `up ${formatUptime(info.uptimeSeconds)}, since ${info.startedAt}`,
    `hypervisor: ${info.hypervisor}`,
    info.libvirt.state === 'not used' ? 'libvirt: not used (libvirt.enabled: false)' : `libvirt: ${info.libvirt.state} (${info.libvirt.uri})`,
    `ovsdb: ${info.ovsdb.state} (${info.ovsdb.socket})`,
    `control socket: ${info.controlSocket}`,
    `metrics: http://${info.metrics.listen}/metrics`,
    `VIFs: ${vifs === '' ? 'none' : vifs}`,
  ];
  if (info.networks.length === 0) return [...lines, 'networks: none configured'].join('\n');
  const table = formatTable([['NETWORK', 'BRIDGE', 'VLAN', 'MTU', 'BRIDGE EXISTS'],
    ...info.networks.map((network) => [network.name, network.bridge, network.vlan, network.mtu === null ? '-' : String(network.mtu), bridgeText(network.bridgeExists)])]);
  return [...lines, '', table].join('\n');
}

export async function runInfo(options: DaemonCallOptions, io: Output, clientVersion: string): Promise<number> {
  const result = await callDaemon(options, 'info', {}, io);
  if (typeof result === 'number') return result;
  io.out(options.json ? JSON.stringify({ ok: true, client: clientVersion, ...result }) : formatInfo(result, clientVersion));
  return 0;
}
