// vifctl define's VF bookkeeping (pure): which VIFs are on SR-IOV networks,
// what other definitions record, and the chosen VFs written into vifd's
// metadata with the rest of the operator's file kept as written.
import assert from 'node:assert/strict';
import { definedVfs, recordIntent, sriovVifsOf, withChosenVfs } from '../../../src/cli/define-vfs.js';
import { validateConfig } from '../../../src/config/schema.js';
import { InvalidInputError } from '../../../src/model/errors.js';
import { VIFD_XML_NS } from '../../../src/model/xmlns.js';
import { parseDomainXml } from '../../../src/sources/libvirt/domain-xml.js';

const UUID = 'a44f6903-f1d5-423e-bb20-1c84a87f2e4b';
const OTHER = '0b5e3c1a-8d2f-4e6a-9c7b-1f2e3d4c5b6a';
const config = validateConfig({ networks: { prod: { bridge: 'br0' }, fast: { vlan: 100, sriov: { pfs: ['enp1s0'] } } } });
const xml = (metadata: string, uuid = UUID): string =>
  `<domain type='kvm'>\n  <!-- the operator's comment -->\n  <name>web1</name>\n  <uuid>${uuid}</uuid>\n  <metadata>\n    ${metadata}\n  </metadata>\n  <devices/>\n</domain>\n`;
const chosen = (index: number, address: string) => ({ index, network: 'fast', address, pfName: 'enp1s0', vf: 0, how: 'chosen' });

describe('cli/define-vfs: recording the VFs the daemon chose', () => {
  const text = xml(`<vifd:vifd xmlns:vifd="${VIFD_XML_NS}"><vifd:vif-limit>8</vifd:vif-limit><vifd:vif network="prod"/><vifd:vif network="fast" mac="52:54:00:00:00:01"/><vifd:vif index="4" network="fast" vf="0000:01:10.6"/></vifd:vifd>`);
  const domain = parseDomainXml(text);

  it('finds the VIFs on SR-IOV networks by the host config', () => {
    assert.deepEqual(sriovVifsOf(domain, config).map((vif) => vif.index), [1, 4]);
  });

  it('writes each chosen VF into the metadata, keeping the limit, MACs and every other line of the file', () => {
    const intent = withChosenVfs(domain.intent ?? { vifs: [] }, [chosen(1, '0000:01:10.2')]);
    const rewritten = recordIntent(text, domain, intent);
    const reread = parseDomainXml(rewritten).intent;
    assert.equal(reread?.vifLimit, '8');
    assert.deepEqual(reread.vifs, [
      { index: 0, network: 'prod', kind: 'tap' },
      { index: 1, network: 'fast', kind: 'sriov-vf', mac: '52:54:00:00:00:01', vf: '0000:01:10.2' },
      { index: 4, network: 'fast', kind: 'sriov-vf', vf: '0000:01:10.6' }]);
    assert.ok(rewritten.includes('<!-- the operator\'s comment -->\n  <name>web1</name>'));
  });

  it('rewrites metadata under another prefix, or with the default namespace', () => {
    for (const metadata of [`<v:vifd xmlns:v="${VIFD_XML_NS}"><v:vif network="fast"/></v:vifd>`, `<vifd xmlns="${VIFD_XML_NS}"><vif network="fast"/></vifd>`]) {
      const parsed = parseDomainXml(xml(metadata));
      const rewritten = recordIntent(xml(metadata), parsed, withChosenVfs(parsed.intent ?? { vifs: [] }, [chosen(0, '0000:01:10.4')]));
      assert.deepEqual(parseDomainXml(rewritten).intent?.vifs, [{ index: 0, network: 'fast', kind: 'sriov-vf', vf: '0000:01:10.4' }], metadata);
    }
  });

  it('refuses, naming the field, metadata it cannot find to rewrite', () => {
    const parsed = parseDomainXml(xml(`<vifd:vifd xmlns:vifd="${VIFD_XML_NS}"><vifd:vif network="fast"/></vifd:vifd>`));
    assert.throws(() => recordIntent('<domain/>', parsed, withChosenVfs(parsed.intent ?? { vifs: [] }, [chosen(0, '0000:01:10.4')])),
      (error: unknown) => error instanceof InvalidInputError && error.context.field === 'metadata' && /record each VF as <vif vf/.test(error.message));
  });

  it('collects the VFs other definitions record (by whom) and this VM\'s previous ones', () => {
    const mine = parseDomainXml(xml(`<vifd:vifd xmlns:vifd="${VIFD_XML_NS}"><vifd:vif network="fast" vf="0000:01:10.2"/></vifd:vifd>`));
    const theirs = parseDomainXml(xml(`<vifd:vifd xmlns:vifd="${VIFD_XML_NS}"><vifd:vif network="prod"/><vifd:vif network="fast" vf="0000:01:10.4"/></vifd:vifd>`, OTHER));
    const found = definedVfs(UUID, [{ name: 'web1', definition: mine }, { name: 'db', definition: theirs }]);
    assert.deepEqual([...found.previous], [[0, '0000:01:10.2']]);
    assert.deepEqual([...found.recorded], [['0000:01:10.4', `VM "db" (${OTHER})`]]);
  });
});
