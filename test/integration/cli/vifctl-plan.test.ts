// `vifctl plan` as operators run it: a process, its output and exit code.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryRun } from '../../harness/exec.js';

const VIFCTL = ['node', 'dist/src/cli/vifctl.js'];
const CONFIG = 'test/fixtures/vifd.yaml';
const WEB1 = 'test/fixtures/domains/web1.xml';

describe('integration: vifctl plan', function () {
  this.timeout(20_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'vifd-test-plan-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('prints the plan as a table', async () => {
    const result = await tryRun([...VIFCTL, 'plan', WEB1, '--config', CONFIG]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines[0], 'VM "web1" 6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b: 3 of 7 VIFs (limit from host)');
    assert.match(lines[1] ?? '', /^INDEX\s+KIND\s+DEVICE\s+MAC\s+NETWORK\s+BRIDGE\s+VLAN\s+MTU$/);
    assert.match(lines[2] ?? '', /^0\s+tap\s+vdu2vyz32zb-0\s+52:54:00:a1:f6:ed\s+prod\s+br-prod\s+access 100\s+9000$/);
    assert.match(lines[3] ?? '', /^1\s+tap\s+vdu2vyz32zb-1\s+52:54:00:12:34:56\s+storage\s+br-stor\s+trunk 200-202\s+-$/);
    assert.match(lines[4] ?? '', /^-\s+libvirt-ovs\s+-\s+52:54:00:00:00:99\s+-\s+br-mgmt\s+native-untagged 10 trunks 20\s+-$/);
  });

  it('prints JSON with the rendered interface XML', async () => {
    const result = await tryRun([...VIFCTL, 'plan', WEB1, '--config', CONFIG, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const plan = JSON.parse(result.stdout) as { ok: boolean; vifs: { mac: string; interfaceXml: string }[] };
    assert.equal(plan.ok, true);
    const [first] = plan.vifs;
    assert.ok(first !== undefined);
    assert.equal(first.mac, '52:54:00:a1:f6:ed');
    assert.match(first.interfaceXml, /<target dev='vdu2vyz32zb-0' managed='no'\/>/);
  });

  it('refuses a definition over 1 MiB from its size, as a file and through a pipe, without reading it all', async () => {
    const huge = join(dir, 'huge.xml');
    const xml = readFileSync(WEB1, 'utf8');
    writeFileSync(huge, xml.replace('</domain>', `<description>${'x'.repeat(100 * 1024 * 1024)}</description></domain>`));
    for (const command of ['plan', 'define'] as const) {
      const result = await tryRun([...VIFCTL, command, huge, '--config', CONFIG, ...(command === 'define' ? ['--print'] : []), '--json']);
      assert.equal(result.code, 1, result.stderr);
      const verdict = JSON.parse(result.stdout) as { ok: boolean; reason: string };
      assert.equal(verdict.ok, false);
      assert.match(verdict.reason, /huge\.xml: the domain definition is 10485\d{4} bytes; vifd reads at most 1048576 \(1 MiB\)$/);
    }
    const piped = await tryRun(['sh', '-c', 'cat "$0" | "$@"', huge, ...VIFCTL, 'plan', '/dev/stdin', '--config', CONFIG]);
    assert.equal(piped.code, 1, piped.stderr);
    assert.match(piped.stdout, /^refused: domain XML: \/dev\/stdin: the domain definition is over 1048576 bytes/);
  });

  it('refuses an eighth VIF with exit 1 and the reason, as text and JSON', async () => {
    const vifs = Array.from({ length: 8 }, () => '<v:vif network="prod"/>').join('');
    const xml = join(dir, 'big.xml');
    writeFileSync(xml, `<domain><name>big</name><uuid>00000000-0000-4000-8000-000000000001</uuid><metadata><v:vifd xmlns:v="https://vifd.dev/xmlns/vifd/1">${vifs}</v:vifd></metadata></domain>`);
    const text = await tryRun([...VIFCTL, 'plan', xml, '--config', CONFIG]);
    assert.equal(text.code, 1);
    assert.equal(text.stdout.trim(), 'refused: VM "big": asks for 8 VIFs; the limit is 7 (host default)');
    const json = await tryRun([...VIFCTL, 'plan', xml, '--config', CONFIG, '--json']);
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout), {
      ok: false, code: 'limit-exceeded', reason: 'VM "big": asks for 8 VIFs; the limit is 7 (host default)',
      context: { domain: 'big', vmUuid: '00000000-0000-4000-8000-000000000001' },
    });
  });

  it('refuses a bad config naming the file and field, and bad usage with exit 2', async () => {
    const config = join(dir, 'bad.yaml');
    writeFileSync(config, 'networks: { prod: { bridge: br0, vlan: 4095 } }\n');
    const bad = await tryRun([...VIFCTL, 'plan', WEB1, '--config', config]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout.trim(), `refused: ${config}: networks.prod.vlan: 4095 is outside 1-4094`);
    const usage = await tryRun([...VIFCTL, 'plan']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: vifctl plan DOMAIN.xml/);
  });
});
