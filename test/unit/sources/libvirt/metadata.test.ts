// The intent hot-plug writes back: rendered, then read as libvirt would hand it over.
import assert from 'node:assert/strict';
import { parseDomainXml } from '../../../../src/sources/libvirt/domain-xml.js';
import { renderIntentMetadata } from '../../../../src/sources/libvirt/metadata.js';

const UUID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';

describe('model/intent: metadata that reads back as written', () => {
  it('keeps indexes, MACs, VLANs and hostile network names exactly', () => {
    const intent = { vifLimit: '8', vifs: [
      { index: 2, network: 'a"b\n<c>&\t\'d', kind: 'tap' as const, vlan: '300' },
      { index: 0, network: 'prod', kind: 'tap' as const, mac: '52:54:00:12:34:56' },
    ] };
    const element = renderIntentMetadata(intent)
      .replace('<vifd>', '<vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">').replace('</vifd>', '</vifd:vifd>')
      .replace(/<(\/?)(vif|vif-limit)([ >/])/g, '<$1vifd:$2$3');
    const parsed = parseDomainXml(`<domain><name>web1</name><uuid>${UUID}</uuid><metadata>${element}</metadata></domain>`);
    assert.deepEqual(parsed.intent, { vifLimit: '8', vifs: [intent.vifs[1], intent.vifs[0]] });
  });
});
