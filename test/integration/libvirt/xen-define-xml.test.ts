// What `vifctl define` renders for a Xen domain, defined on libvirt's test
// driver with VIR_DOMAIN_DEFINE_VALIDATE: libvirt checks the bridge
// interfaces (vifd's MAC, the bridge, <vlan>, <virtualport type='openvswitch'/>,
// <script path='vif-vifd'/>) against its own RNG schema and keeps them. The test
// driver runs no libxl: the domain type becomes 'test' for the check, the
// interfaces are exactly as rendered for type 'xen'.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { renderDefinition } from '../../../src/cli/define.js';
import { parseConfigText } from '../../../src/config/schema.js';
import { LibvirtConnection, openHandles } from '../../../src/libvirt/connection.js';
import { LibvirtError } from '../../../src/libvirt/errors.js';
import { uniqueName } from '../../harness/names.js';

const config = parseConfigText(readFileSync('test/fixtures/vifd.yaml', 'utf8'), 'test config');
const xenDomain = (name: string, vifs: string): string => `<domain type='xen'>
  <name>${name}</name>
  <uuid>${randomUUID()}</uuid>
  <memory unit='MiB'>64</memory>
  <metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">${vifs}</vifd:vifd></metadata>
  <os><type>hvm</type></os>
  <devices/>
</domain>`;
const asTestDomain = (xml: string): string => xml.replace("<domain type='xen'>", "<domain type='test'>");

describe('integration: Xen bridge interfaces from vifctl define, validated by libvirt (test:///default, DEFINE_VALIDATE)', function () {
  this.timeout(20_000);
  let connection: LibvirtConnection;
  const defined: string[] = [];

  before(async () => { connection = await LibvirtConnection.open({ uri: 'test:///default' }); });
  after(async () => {
    for (const name of defined) await connection.undefineDomain({ name });
    await connection.close();
    assert.equal(openHandles(), 0);
  });

  it('accepts an access VLAN, a trunk and an untagged VIF, and keeps script, VLAN and MAC', async () => {
    const name = uniqueName('domain');
    const { plan, xml } = renderDefinition(xenDomain(name, '<vifd:vif network="prod"/><vifd:vif network="storage"/><vifd:vif network="mgmt"/>'), config);
    await connection.defineDomain(asTestDomain(xml), { validate: true });
    defined.push(name);
    const back = await connection.domainXml({ name }, { inactive: true });
    assert.equal(back.match(/<script path='vif-vifd'\/>/g)?.length, 3, back);
    assert.equal(back.match(/<virtualport type='openvswitch'/g)?.length, 3, back);
    for (const vif of plan.vifs) {
      assert.ok(vif.mac.startsWith('00:16:3e:'), vif.mac);
      assert.ok(back.includes(`<mac address='${vif.mac}'/>`), `${vif.mac} missing in ${back}`);
    }
    assert.match(back, /<vlan>\s*<tag id='100'\/>\s*<\/vlan>/);
    assert.match(back, /<vlan trunk='yes'>\s*<tag id='200'\/>\s*<tag id='201'\/>\s*<tag id='202'\/>\s*<\/vlan>/);
  });

  it('the validation is real: an unknown element in the rendered interface is refused', async () => {
    const { xml } = renderDefinition(xenDomain(uniqueName('domain'), '<vifd:vif network="prod"/>'), config);
    await assert.rejects(connection.defineDomain(asTestDomain(xml.replace("<script path='vif-vifd'/>", "<script path='vif-vifd'/><bogus/>")), { validate: true }), (error: unknown) => {
      assert.ok(error instanceof LibvirtError);
      assert.match(error.message, /failed to validate against schema/);
      return true;
    });
  });
});
