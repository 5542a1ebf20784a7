import assert from 'node:assert/strict';
import { SriovSysfsError, VfNetlinkError } from '../../../src/host/sriov/errors.js';
import { withErrorContext } from '../../../src/model/errors.js';

describe('host/sriov/errors: typed errors keep PF, VF, attribute and errno when VM and VIF are added', () => {
  it('withErrorContext rebuilds the same class with its location and errno', () => {
    const refused = VfNetlinkError.refused({ pf: 'enp1s0', vf: 3, attribute: 'link-state' }, 95, 'setting state enable');
    assert.throws(() => withErrorContext({ vmUuid: 'a44f6903-f1d5-423e-bb20-1c84a87f2e4b', vifIndex: 2 }, () => { throw refused; }), (error: unknown) => {
      assert.ok(error instanceof VfNetlinkError);
      assert.equal(error.message, 'VM a44f6903-f1d5-423e-bb20-1c84a87f2e4b VIF 2: PF enp1s0 VF 3 link-state: setting state enable failed: EOPNOTSUPP');
      assert.deepEqual([error.errno, error.isUnsupported, error.location], [95, true, { pf: 'enp1s0', vf: 3, attribute: 'link-state' }]);
      return true;
    });
    const sysfs = SriovSysfsError.at({ pf: '0000:01:00.0' }, 'gone').withContext({ vifIndex: 1 });
    assert.ok(sysfs instanceof SriovSysfsError);
    assert.deepEqual([sysfs.message, sysfs.location], ['VIF 1: PF 0000:01:00.0: gone', { pf: '0000:01:00.0' }]);
  });
});
