// What Open vSwitch holds of a Xen device's port, read with ovs-vsctl (vifd
// itself speaks OVSDB), and the XAPI-style VLAN network: an OVS fake bridge
// as xcp-networkd creates it (`ovs-vsctl add-br xapi3 xenbr0 100`).
import { run } from '../exec.js';

const VSCTL = ['ovs-vsctl', '--timeout=30'];

type Atom = string | number | boolean | [string, unknown];
type Column = Atom | ['set', Atom[]] | ['map', [string, string][]];

export interface XenPort {
  /** The real bridge the Port row is on (a fake bridge's parent). */
  readonly bridge: string;
  readonly portUuid: string;
  readonly interfaceUuid: string;
  readonly tag: number | null;
  readonly trunks: readonly number[];
  readonly externalIds: Readonly<Record<string, string>>;
}

/** A fake bridge `name` on `parent` with VLAN `tag`; ports added "to" it are access ports of `tag` on `parent`. */
export async function createFakeBridge(name: string, parent: string, tag: number): Promise<void> {
  await run([...VSCTL, 'add-br', name, parent, String(tag)]);
}

async function table(name: string, columns: readonly string[]): Promise<Record<string, Column>[]> {
  const out = await run([...VSCTL, '--format=json', `--columns=${columns.join(',')}`, 'list', name]);
  const parsed = JSON.parse(out) as { headings: string[]; data: Column[][] };
  return parsed.data.map((row) => Object.fromEntries(parsed.headings.map((heading, i) => [heading, row[i] as Column])));
}

const uuidOf = (column: Column | undefined): string => (Array.isArray(column) && column[0] === 'uuid' ? String(column[1]) : '');

function setOf(column: Column | undefined): Atom[] {
  if (column === undefined) return [];
  if (Array.isArray(column) && column[0] === 'set') return column[1] as Atom[];
  return [column];
}

function mapOf(column: Column | undefined): Record<string, string> {
  return Array.isArray(column) && column[0] === 'map' ? Object.fromEntries(column[1] as [string, string][]) : {};
}

/** The device's Port and Interface rows, or null when OVS has no port of that name. */
export async function xenPort(device: string): Promise<XenPort | null> {
  const port = (await table('Port', ['_uuid', 'name', 'tag', 'trunks', 'interfaces'])).find((row) => row.name === device);
  if (port === undefined) return null;
  const portUuid = uuidOf(port._uuid);
  const interfaceUuid = uuidOf(setOf(port.interfaces)[0]);
  const iface = (await table('Interface', ['_uuid', 'external_ids'])).find((row) => uuidOf(row._uuid) === interfaceUuid);
  const bridge = (await table('Bridge', ['name', 'ports'])).find((row) => setOf(row.ports).some((ref) => uuidOf(ref) === portUuid));
  const tag = setOf(port.tag)[0];
  return {
    bridge: typeof bridge?.name === 'string' ? bridge.name : '', portUuid, interfaceUuid,
    tag: typeof tag === 'number' ? tag : null,
    trunks: setOf(port.trunks).filter((id): id is number => typeof id === 'number').sort((a, b) => a - b),
    externalIds: mapOf(iface?.external_ids),
  };
}
