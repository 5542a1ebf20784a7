// XAPI's MAC for a VIF created with MAC="" on a VM with other_config.mac_seed,
// from the description in research/xen-xapi.md §2: MD5 applied 2*device+1
// times starting from the seed text, then MD5 once more; the MAC is the first
// four bytes of the chain and bytes 1-2 of the last digest, made locally
// administered and unicast.
import { createHash } from 'node:crypto';

const md5 = (data: Buffer): Buffer => createHash('md5').update(data).digest();

export function genMac(device: number, seed: string): string {
  let chain: Buffer = Buffer.from(seed, 'utf8');
  for (let round = 0; round < 2 * device + 1; round += 1) chain = md5(chain);
  const last = md5(chain);
  const bytes = [chain[0] ?? 0, chain[1] ?? 0, chain[2] ?? 0, chain[3] ?? 0, last[1] ?? 0, last[2] ?? 0];
  bytes[0] = ((bytes[0] ?? 0) | 0x02) & ~0x01;
  return bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}
