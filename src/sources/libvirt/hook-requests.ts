// libvirt's qemu hook hands vifd the domain XML on stdin; these turn it into
// the engine's requests. Parsing happens when the engine reads the request,
// so a refusal of bad XML is counted and logged like any refused start.
import type { IntentRead } from '../../model/contracts.js';
import type { VmIdentity } from '../../model/vm-intent.js';
import { definitionRead } from './intent.js';
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
