// A whole domain as vifd's libvirt source renders it for SR-IOV VIFs (the
// shipped templates, metadata recording the VF, a virtio failover twin),
// defined on libvirt's test driver with VIR_DOMAIN_DEFINE_VALIDATE, and read
// back from libvirt into the same intent and a clean rendered-as-planned check.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LibvirtConnection, openHandles } from '../../../src/libvirt/connection.js';
import { KVM_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import type { PlanSettings } from '../../../src/model/plan.js';
import { DEFAULT_VF_SETTINGS } from '../../../src/model/sriov/config.js';
import { parseDomainXml } from '../../../src/sources/libvirt/domain-xml.js';
import { planDomain, renderedInterfaceProblems } from '../../../src/sources/libvirt/intent.js';
import { migrationRefusals } from '../../../src/sources/libvirt/migration.js';
import { HOSTDEV_TEMPLATE, TAP_TEMPLATE, renderDomainInterfaces } from '../../../src/sources/libvirt/render.js';
import { uniqueName } from '../../harness/names.js';

const UUID = '5c1d7e42-0f3a-4b6c-9d8e-7a6b5c4d3e2f';
const settings: PlanSettings = {
  macPrefix: parseMacPrefix(KVM_MAC_PREFIX), vifLimit: { default: 7, max: 16 },
  networks: new Map([['fast', { bridge: '', vlan: { mode: 'access', tag: 100 }, sriov: { defaults: DEFAULT_VF_SETTINGS, vlan: 100, vfDriver: 'vfio-pci' } }], ['slow', { bridge: 'br0', vlan: { mode: 'none' } }]]),
};

const definition = (name: string, uuid = UUID): string => `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory>65536</memory><os><type>hvm</type></os>
  <metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1"><vifd:vif network="slow"/><vifd:vif network="fast" vf="0000:01:10.2"/><vifd:vif network="fast" vf="0000:02:10.0"/></vifd:vifd></metadata>
  <devices></devices>
</domain>`;

describe('integration: a domain with SR-IOV VIFs rendered by the libvirt source, validated by libvirt (test:///)', function () {
  this.timeout(20_000);
  let connection: LibvirtConnection;
  const defined: string[] = [];

  before(async () => { connection = await LibvirtConnection.open({ uri: 'test:///default' }); });
  after(async () => {
    for (const name of defined) await connection.undefineDomain({ name });
    await connection.close();
    assert.equal(openHandles(), 0);
  });

  it('validates, and reads back from libvirt as the same intent, rendered as planned', async () => {
    const name = uniqueName('domain');
    const bare = definition(name);
    const domain = parseDomainXml(bare);
    const plan = planDomain(domain, settings);
    const xml = renderDomainInterfaces(bare, domain, plan, readFileSync(TAP_TEMPLATE, 'utf8'), readFileSync(HOSTDEV_TEMPLATE, 'utf8'));
    await connection.defineDomain(xml, { validate: true });
    defined.push(name);
    const back = parseDomainXml(await connection.domainXml({ name }, { inactive: true }));
    assert.deepEqual(back.intent?.vifs.map((vif) => [vif.kind, vif.index, 'vf' in vif ? vif.vf : null]), [['tap', 0, null], ['sriov-vf', 1, '0000:01:10.2'], ['sriov-vf', 2, '0000:02:10.0']]);
    assert.deepEqual(back.interfaces.map((definition) => [definition.type, definition.hostdevAddress ?? null]), [['ethernet', null], ['hostdev', '0000:01:10.2'], ['hostdev', '0000:02:10.0']]);
    assert.deepEqual(renderedInterfaceProblems(back, planDomain(back, settings)), []);
    assert.equal(migrationRefusals(back).length, 2, 'two VFs without a failover twin');
  });

  it('the failover declaration the migration check asks for is valid libvirt XML and lets the check pass', async () => {
    const name = uniqueName('domain');
    const bare = definition(name, '6d2e8f53-1a4b-4c7d-8e9f-0a1b2c3d4e5f').replace('<vifd:vif network="fast" vf="0000:02:10.0"/>', '');
    const domain = parseDomainXml(bare);
    const plan = planDomain(domain, settings);
    const mac = plan.vifs[1]?.mac ?? '';
    const rendered = renderDomainInterfaces(bare, domain, plan, readFileSync(TAP_TEMPLATE, 'utf8'), readFileSync(HOSTDEV_TEMPLATE, 'utf8'))
      .replace(/(<source>\s*<address type='pci'[^>]*\/>\s*<\/source>)/, "$1\n    <teaming type='transient' persistent='ua-fast1'/>");
    const twin = `<interface type='network'><mac address='${mac}'/><source network='default'/><model type='virtio'/><alias name='ua-fast1'/><teaming type='persistent'/></interface>`;
    await connection.defineDomain(rendered.replace('</devices>', `${twin}</devices>`), { validate: true });
    defined.push(name);
    const back = parseDomainXml(await connection.domainXml({ name }, { inactive: true }));
    assert.deepEqual(migrationRefusals(back), []);
  });
});
