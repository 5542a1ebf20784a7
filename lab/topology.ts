// What the one-machine demo is made of. Every name here is fixed, so that
// `lab.js down` finds everything without state saved by `up`, and every VM
// UUID is fixed, so its MACs and TAP names are the same run after run.
import { deviceName } from '../src/model/names.js';

export const BRIDGE = 'br-vifdlab';
export const CONFIG_PATH = '/etc/vifd/vifd.yaml';
export const CONFIG_MARKER = '# written by make lab; make lab-down removes it';
export const INSTALL_SCRIPT = new URL('../../scripts/install.sh', import.meta.url).pathname;
export const STATE_DIR = '/var/lib/vifd-lab';
export const LOG_PATH = '/var/log/vifd-lab.log';
export const PID_PATH = '/run/vifd-lab.pid';
export const VIFD_BIN = '/usr/local/bin/vifd';
export const VIFCTL_BIN = '/usr/local/bin/vifctl';
export const CONTROL_SOCKET = '/run/vifd/vifd.sock';
export const METRICS_LISTEN = '127.0.0.1:9477';
export const LIBVIRT_URI = 'qemu:///system';
export const SUBNET = '10.0.0.0/24';

export type NetworkName = 'v100' | 'v200';
export const VLAN_OF: Readonly<Record<NetworkName, number>> = { v100: 100, v200: 200 };

export interface ProbeSpec {
  readonly label: string;
  readonly netns: string;
  /** The veth end on the bridge (an access port) and the end inside the namespace. */
  readonly hostEnd: string;
  readonly innerEnd: string;
  readonly network: NetworkName;
  readonly address: string;
}

export const PROBES: readonly ProbeSpec[] = [
  { label: 'p100', netns: 'vifdlab-p100', hostEnd: 'vifdlab-p100', innerEnd: 'vifdlab-p100i', network: 'v100', address: '10.0.0.1' },
  { label: 'p200', netns: 'vifdlab-p200', hostEnd: 'vifdlab-p200', innerEnd: 'vifdlab-p200i', network: 'v200', address: '10.0.0.20' },
];

export interface NicSpec {
  readonly network: NetworkName;
  readonly address: string;
  /** The guest's prefix length; the probes always use /24. */
  readonly prefix: number;
}

export interface VmSpec {
  readonly name: string;
  readonly uuid: string;
  readonly nics: readonly NicSpec[];
}

const nic = (network: NetworkName, address: string, prefix = 24): NicSpec => ({ network, address, prefix });

// One subnet for everything, so that a ping across VLANs fails only because
// OVS keeps the VLANs apart, never for want of a route. vifdlab-web sits on
// both VLANs; its v200 address gets a /28 that holds p200 and not p100, so its
// replies leave by the NIC on the asker's VLAN (two equal /24 routes would
// send every reply out of one NIC).
export const VMS: readonly VmSpec[] = [
  { name: 'vifdlab-web', uuid: 'a44f6903-f1d5-423e-bb20-1c84a87f2e4b', nics: [nic('v100', '10.0.0.11'), nic('v200', '10.0.0.21', 28)] },
  { name: 'vifdlab-db', uuid: '14566ff3-8b81-4c82-b441-9ca6b151a716', nics: [nic('v200', '10.0.0.22')] },
  { name: 'vifdlab-app', uuid: 'fb8efb6b-4eac-4f50-93f1-86d5af6ea75f', nics: [nic('v100', '10.0.0.13')] },
];

/** One VIF more than the default limit of 7: vifctl define must refuse it. */
export const BIG_VM: VmSpec = {
  name: 'vifdlab-big', uuid: 'a10e96f0-ac09-4976-ac71-28e7b40cd251',
  nics: Array.from({ length: 8 }, (_, index) => nic('v100', `10.0.0.${100 + index}`)),
};

export const ALL_VMS: readonly VmSpec[] = [...VMS, BIG_VM];

/** The TAP names vifd gives the lab's VIFs (design invariant 5). */
export function labDevices(): string[] {
  return ALL_VMS.flatMap((vm) => vm.nics.map((_, index) => deviceName(vm.uuid, index)));
}

export function configText(): string {
  return `${CONFIG_MARKER}
# vifd host config for the one-machine demo: two VLANs on one OVS bridge.
hypervisor: kvm
control_socket: ${CONTROL_SOCKET}
metrics:
  listen: ${METRICS_LISTEN}
networks:
  v100: { bridge: ${BRIDGE}, vlan: ${VLAN_OF.v100} }
  v200: { bridge: ${BRIDGE}, vlan: ${VLAN_OF.v200} }
`;
}
