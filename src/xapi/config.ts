// The `xapi:` block of vifd's config, as a pure parser the config schema
// calls with the block's path (errors name e.g. xapi.credentials_file), plus
// the host's own uuid from /etc/xensource-inventory when the block gives none.
//
//   xapi:
//     transport: unix:/var/lib/xcp/xapi       # default; or https://master.example
//     credentials_file: /etc/vifd/xapi.cred   # required with https:// (mode 0600)
//     ca_file: /etc/vifd/xapi-ca.pem          # optional, https:// only
//     host_uuid: 8-4-4-4-12                   # default: INSTALLATION_UUID of the inventory
//     vif_limit: 7                            # default VIF limit for XAPI VMs
import { readFile } from 'node:fs/promises';
import { InvalidInputError, describeValue } from '../model/errors.js';
import { parseVmUuid } from '../model/ids.js';
import { DEFAULT_VIF_LIMIT, parseVifLimit } from '../model/limit.js';
import { DEFAULT_XAPI_SOCKET, parseEndpoint } from './transport.js';
import type { XapiEndpoint } from './transport.js';

export const DEFAULT_INVENTORY_PATH = '/etc/xensource-inventory';
const KEYS = ['transport', 'credentials_file', 'ca_file', 'host_uuid', 'vif_limit'] as const;

export interface XapiConfig {
  readonly transport: XapiEndpoint;
  readonly credentialsFile: string | null;
  readonly caFile: string | null;
  /** null: read INSTALLATION_UUID from the inventory (resolveHostUuid). */
  readonly hostUuid: string | null;
  readonly vifLimit: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function absolutePath(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new InvalidInputError(`expected an absolute path, got ${describeValue(value)}`, { field, value });
  }
  return value;
}

export function parseXapiConfig(value: unknown, field = 'xapi'): XapiConfig {
  const block = value ?? {};
  if (!isPlainObject(block)) throw new InvalidInputError(`expected a mapping, got ${describeValue(value)}`, { field, value });
  const unknown = Object.keys(block).filter((key) => !(KEYS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    throw new InvalidInputError(`unknown key (known: ${KEYS.join(', ')})`, { field: `${field}.${unknown[0] ?? ''}`, value: unknown });
  }
  const at = (key: string): string => `${field}.${key}`;
  const transport = parseEndpoint(block.transport ?? `unix:${DEFAULT_XAPI_SOCKET}`, at('transport'));
  const credentialsFile = absolutePath(block.credentials_file, at('credentials_file'));
  const caFile = absolutePath(block.ca_file, at('ca_file'));
  if (transport.kind === 'url' && credentialsFile === null) {
    throw new InvalidInputError(`required with a ${transport.url.protocol}// transport (only the local unix socket logs in without a password)`, { field: at('credentials_file') });
  }
  if (caFile !== null && (transport.kind !== 'url' || transport.url.protocol !== 'https:')) {
    throw new InvalidInputError('only meaningful with an https:// transport', { field: at('ca_file'), value: caFile });
  }
  const hostUuid = block.host_uuid === undefined || block.host_uuid === null ? null : parseVmUuid(block.host_uuid, at('host_uuid'));
  const vifLimit = block.vif_limit === undefined || block.vif_limit === null ? DEFAULT_VIF_LIMIT : parseVifLimit(block.vif_limit, at('vif_limit'));
  return { transport, credentialsFile, caFile, hostUuid, vifLimit };
}

/** INSTALLATION_UUID from the text of an xensource-inventory file (KEY='value' lines). */
export function installationUuid(text: string, source: string): string {
  for (const line of text.split('\n')) {
    const match = /^\s*INSTALLATION_UUID\s*=\s*(.*?)\s*$/.exec(line);
    if (match === null) continue;
    const raw = match[1] ?? '';
    const unquoted = /^(['"])(.*)\1$/.exec(raw)?.[2] ?? raw;
    try {
      return parseVmUuid(unquoted, 'INSTALLATION_UUID');
    } catch (error) {
      if (error instanceof InvalidInputError) throw error.withContext({ source });
      throw error;
    }
  }
  throw new InvalidInputError('no INSTALLATION_UUID line; set xapi.host_uuid', { source, field: 'INSTALLATION_UUID' });
}

/** The uuid of the host vifd runs on: the config's, else the inventory's. */
export async function resolveHostUuid(config: XapiConfig, inventoryPath = DEFAULT_INVENTORY_PATH): Promise<string> {
  if (config.hostUuid !== null) return config.hostUuid;
  let text: string;
  try {
    text = await readFile(inventoryPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new InvalidInputError(`cannot read (${code}); set xapi.host_uuid on a host without it`, { source: inventoryPath }, { cause: error });
  }
  return installationUuid(text, inventoryPath);
}
