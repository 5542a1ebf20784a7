// Every hostdev interface vifd renders, defined on libvirt's test driver with
// VIR_DOMAIN_DEFINE_VALIDATE: libvirt checks it against its own RNG schema (no
// daemon, no hardware; test:/// accepts hostdev interfaces).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LibvirtConnection, openHandles } from '../../../src/libvirt/connection.js';
import { LibvirtError } from '../../../src/libvirt/errors.js';
import { HOSTDEV_TEMPLATE, renderHostdevInterface } from '../../../src/model/sriov/render.js';
import type { HostdevVif } from '../../../src/model/sriov/render.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import { uniqueName } from '../../harness/names.js';

const template = readFileSync(HOSTDEV_TEMPLATE, 'utf8');
const domainXml = (name: string, interfaces: readonly string[]): string =>
  `<domain type='test'><name>${name}</name><memory>65536</memory><os><type>hvm</type></os><devices>\n${interfaces.join('\n')}\n</devices></domain>`;

const CASES: [string, HostdevVif[]][] = [
  ['one VF with an access VLAN', [{ mac: '52:54:00:9b:d9:10', address: parsePciAddress('0000:01:10.0'), vlan: 100, driver: 'vfio' }]],
  ['one untagged VF', [{ mac: '52:54:00:9b:d9:11', address: parsePciAddress('0000:01:10.2'), driver: 'vfio' }]],
  ['the extremes of every address field and VLAN', [{ mac: '02:00:00:00:00:01', address: parsePciAddress('ffff:ff:1f.7'), vlan: 4094, driver: 'vfio' }]],
  ['a Xen VF', [{ mac: '00:16:3e:00:00:01', address: parsePciAddress('0000:03:10.4'), vlan: 1, driver: 'xen' }]],
  ['seven VFs of two PFs in one domain', Array.from({ length: 7 }, (_, index): HostdevVif => ({
    mac: `52:54:00:00:00:0${index}`, address: parsePciAddress(`0000:0${1 + (index % 2)}:10.${index}`), vlan: 100 + index, driver: 'vfio',
  }))],
];

describe('integration: sriov hostdev XML validated by libvirt (test:///default, DEFINE_VALIDATE)', function () {
  this.timeout(20_000);
  let connection: LibvirtConnection;
  const defined: string[] = [];

  before(async () => { connection = await LibvirtConnection.open({ uri: 'test:///default' }); });
  after(async () => {
    for (const name of defined) await connection.undefineDomain({ name });
    await connection.close();
    assert.equal(openHandles(), 0);
  });

  for (const [title, vifs] of CASES) {
    it(`accepts ${title}, and reads it back as a hostdev interface`, async () => {
      const name = uniqueName('domain');
      await connection.defineDomain(domainXml(name, vifs.map((vif) => renderHostdevInterface(template, vif))), { validate: true });
      defined.push(name);
      const xml = await connection.domainXml({ name }, { inactive: true });
      assert.equal(xml.match(/<interface type='hostdev' managed='yes'>/g)?.length, vifs.length);
      for (const vif of vifs) assert.ok(xml.includes(`<mac address='${vif.mac}'/>`), `${vif.mac} missing in ${xml}`);
    });
  }

  it('the validation is real: a bad function number and an unknown element are refused', async () => {
    const good = renderHostdevInterface(template, { mac: '52:54:00:9b:d9:10', address: parsePciAddress('0000:01:10.0'), vlan: 100, driver: 'vfio' });
    for (const broken of [good.replace("function='0x0'", "function='0x9'"), good.replace('<source>', '<bogus/><source>')]) {
      await assert.rejects(connection.defineDomain(domainXml(uniqueName('domain'), [broken]), { validate: true }), (error: unknown) => {
        assert.ok(error instanceof LibvirtError);
        assert.match(error.message, /failed to validate against schema/);
        return true;
      });
    }
    const name = uniqueName('domain');
    await connection.defineDomain(domainXml(name, [good.replace('<source>', '<bogus/><source>')]));
    defined.push(name); // without the flag libvirt ignores the unknown element: the flag is what checks
  });
});
