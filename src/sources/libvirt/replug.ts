// A TAP that vanished under a running VM (deleted by hand, say) is recreated
// by reconcile, but QEMU still holds the deleted device, so the guest's NIC
// passes nothing. Re-plugging the NIC through libvirt makes QEMU open the new
// TAP: the guest sees the NIC leave and come back, with the same MAC. Runs
// outside the VM's queue: libvirt calls on a VM wait for its running jobs, and
// a VM that is stopping runs the release hook, which waits for that queue.
import { parseDomainXml } from './domain-xml.js';
import { renderTapInterface } from './render.js';
import type { DesiredVif } from '../../model/plan.js';
import type { DomainControl, SourceLog } from './control.js';

/** Polls the live definition until the device is gone (the guest released it) or the bound passes. */
export async function waitUntilDetached(control: DomainControl, uuid: string, device: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = parseDomainXml(await control.definition(uuid, 'live'));
    if (!live.interfaces.some((definition) => definition.targetDev === device)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export type Replug = (uuid: string, name: string, vifs: readonly DesiredVif[]) => Promise<void>;

export function replugThroughLibvirt(control: DomainControl, template: string, log: SourceLog, releaseWaitMs = 10_000): Replug {
  return async (uuid, name, vifs) => {
    for (const vif of vifs) {
      const xml = renderTapInterface(template, vif);
      const fields = { vmUuid: uuid, device: vif.device, vif: vif.index };
      log.warn(`the TAP of VIF ${vif.index} of VM ${JSON.stringify(name)} vanished while it ran; recreated, re-plugging the NIC so QEMU uses it`, fields);
      try {
        await control.detachInterface(uuid, xml, { live: true });
        if (!(await waitUntilDetached(control, uuid, vif.device, releaseWaitMs))) {
          log.error(`the guest of VM ${JSON.stringify(name)} did not release VIF ${vif.index} for the re-plug; its NIC stays without a working TAP`, fields);
          continue;
        }
        await control.attachInterface(uuid, xml, { live: true });
        log.info(`re-plugged VIF ${vif.index} of VM ${JSON.stringify(name)}`, fields);
      } catch (error) {
        log.error(`re-plugging VIF ${vif.index} of VM ${JSON.stringify(name)} failed: ${(error as Error).message}`, fields);
      }
    }
  };
}
