// libvirt's qemu hook hands vifd the domain XML on stdin; these turn it into
// the engine's requests. Parsing happens when the engine reads the request,
// so a refusal of bad XML is counted and logged like any refused start.
import type { IntentRead } from '../../model/contracts.js';
import type { VmIdentity } from '../../model/vm-intent.js';
import { InvalidInputError } from '../../model/errors.js';
import { definitionRead } from './intent.js';
import { migrationRefusals } from './migration.js';
import { parseDomainXmlAsync } from './xml-parse.js';

/** prepare: the VM's intent, and the check that its interfaces are rendered as planned. */
export function prepareFromHook(xml: string): { read(): Promise<IntentRead> } {
  return {
    read: async () => definitionRead(await parseDomainXmlAsync(xml)),
  };
}

/** release: which VM stopped; `stopped` lets the source forget what it knew of it running. */
export function releaseFromHook(xml: string, stopped?: (uuid: string) => void): () => Promise<VmIdentity> {
  return async () => {
    const domain = await parseDomainXmlAsync(xml);
    stopped?.(domain.uuid);
    return { uuid: domain.uuid, name: domain.name };
  };
}

/** migrate (run by libvirt on the destination): refused when a VF has no virtio failover twin (migration.ts). */
export async function checkMigrationFromHook(xml: string): Promise<void> {
  const domain = await parseDomainXmlAsync(xml);
  const refusals = migrationRefusals(domain);
  if (refusals.length > 0) throw new InvalidInputError(`live migration refused: ${refusals.join('; ')}`, { domain: domain.name, vmUuid: domain.uuid });
}
