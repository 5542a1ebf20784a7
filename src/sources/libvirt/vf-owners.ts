// Who has which VF, from running domains' live definitions (pure): a hostdev
// interface vifd's metadata records is that VIF's; any other hostdev
// interface is another tool's (a foreign VF, never allocated by vifd).
import { vifIndexOfDevice } from '../../model/names.js';
import type { DomainDefinition } from './domain-xml.js';

export interface VfUse {
  readonly address: string;
  /** vifd's VIF holding it; absent when the interface is not vifd's. */
  readonly owner?: { readonly vmUuid: string; readonly vifIndex: number };
  readonly domain: string;
}

export function vfUsesOf(domain: DomainDefinition): VfUse[] {
  return domain.interfaces.flatMap((definition): VfUse[] => {
    const address = definition.hostdevAddress;
    if (address === undefined) return [];
    const index = vifIndexOfDevice(domain.uuid, definition.targetDev);
    const ours = index !== null && domain.intent?.vifs.some((vif) => vif.index === index && vif.kind === 'sriov-vf') === true;
    return [ours ? { address, owner: { vmUuid: domain.uuid, vifIndex: index }, domain: domain.name } : { address, domain: domain.name }];
  });
}
