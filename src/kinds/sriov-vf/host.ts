// What the sriov-vf kind needs of the host: the daemon's VF pools
// (src/host/sriov/vf-host.ts). Optional: a host with no SR-IOV network has
// none, and then the kind owns nothing and refuses to plug a VF.
import type { SriovVfs } from '../../host/sriov/vf-host.js';

export interface SriovVfHost {
  readonly sriov?: Pick<SriovVfs, 'views' | 'assign' | 'repair' | 'release'>;
}
