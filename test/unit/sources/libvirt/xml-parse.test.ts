// Large domain definitions are parsed off the event loop, with the same
// result and the same typed refusals as in place.
import assert from 'node:assert/strict';
import { IN_PLACE_PARSE_CHARS, parseDomainXmlAsync } from '../../../../src/sources/libvirt/xml-parse.js';
import { parseDomainXml } from '../../../../src/sources/libvirt/domain-xml.js';
import { InvalidInputError } from '../../../../src/model/errors.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';
const padded = (vifs: string, chars: number): string => {
  const disk = "<disk type='file' device='disk'><source file='/var/lib/x.qcow2'/><target dev='vda' bus='virtio'/></disk>";
  return `<domain type='kvm'><name>big</name><uuid>${UUID}</uuid><metadata><v:vifd xmlns:v="https://vifd.dev/xmlns/vifd/1">${vifs}</v:vifd></metadata>` +
    `<devices>${disk.repeat(Math.ceil(chars / disk.length))}</devices></domain>`;
};

describe('engine/xml-parse: big definitions parsed off the event loop', function () {
  this.timeout(30_000);

  it('parses a large definition in a worker, the event loop running meanwhile, with the in-place result', async () => {
    const xml = padded('<v:vif network="prod"/>', 900 * 1024);
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 1);
    try {
      const parsed = await parseDomainXmlAsync(xml);
      assert.ok(ticks >= 3, `the event loop ran only ${ticks} times during the parse`);
      assert.deepEqual(parsed, parseDomainXml(xml));
    } finally {
      clearInterval(timer);
    }
  });

  it('brings back refusals as the same typed errors, with their context', async () => {
    const xml = padded('<v:vif network="prod" mtu="9000"/>', 2 * IN_PLACE_PARSE_CHARS);
    await assert.rejects(parseDomainXmlAsync(xml), (error: unknown) =>
      error instanceof InvalidInputError && error.message === 'VM "big" VIF 0: mtu: attribute "mtu" is not supported in <vif> (known: index, kind, mac, network, vf, vlan)'
      && error.context.vifIndex === 0);
    await assert.rejects(parseDomainXmlAsync(xml.slice(0, -3)), /not well-formed XML/);
  });

  it('refuses a definition over 1 MiB before any parsing', async () => {
    await assert.rejects(parseDomainXmlAsync(padded('', 1100 * 1024)), /vifd reads at most 1048576 \(1 MiB\)/);
  });
});
