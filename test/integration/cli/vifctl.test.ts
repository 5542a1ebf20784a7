// vifctl as operators run it: the built program against a control socket
// served by the test (the real ControlServer with stand-in handlers, found
// through control_socket in a config file), on a host where libvirt.so.0
// cannot be loaded, and at a terminal (a pty made by util-linux's script).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../../src/api/control-server.js';
import type { InfoResult } from '../../../src/daemon/info.js';
import type { VifStatus } from '../../../src/daemon/status-view.js';
import { LimitExceededError } from '../../../src/model/errors.js';
import { VIFCTL, runCli, vifctl } from './cli-run.js';

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const SUBCOMMANDS = ['status', 'info', 'gc', 'attach', 'detach', 'plan', 'define', 'events'];
const WEB1 = 'test/fixtures/domains/web1.xml';

function vif(domain: string | null, index: number, state: VifStatus['state'], uuid = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b'): VifStatus {
  return {
    domain, uuid, index, network: 'prod', device: `vdu2vyz32zb-${index}`, mac: `52:54:00:00:00:0${index}`, bridge: 'br-prod',
    vlan: 'access 100', tag: 100, trunks: [], mtu: null, kind: 'tap', state, drift: state === 'drift' ? [{ field: 'tag', wanted: '100', seen: '5' }] : [], problems: state === 'drift' ? ['tag: wanted 100, seen 5'] : [], ofport: 3,
  };
}

const VIFS: VifStatus[] = [
  vif('web1', 0, 'ok'), vif('web1', 1, 'drift'),
  vif('my vm', 0, 'ok', 'aaaaaaaa-0000-4000-8000-000000000001'),
  vif('tab\there', 0, 'missing', 'aaaaaaaa-0000-4000-8000-000000000002'),
  vif(null, 4, 'orphan', 'aaaaaaaa-0000-4000-8000-000000000003'),
];

const INFO: InfoResult = {
  version: '9.9.9', node: 'v20.0.0', pid: 1234, startedAt: '2026-01-01T00:00:00.000Z', uptimeSeconds: 93_784, hypervisor: 'kvm',
  controlSocket: '/x.sock', libvirt: { uri: 'qemu:///system', state: 'connected' }, ovsdb: { socket: '/db.sock', state: 'disconnected' },
  metrics: { listen: '127.0.0.1:9477' }, vifs: { ok: 2, drift: 1 },
  networks: [{ name: 'prod', bridge: 'br-prod', vlan: 'access 100', mtu: 9000, bridgeExists: true }, { name: 'lab', bridge: 'br-lab', vlan: 'untagged', mtu: null, bridgeExists: false }],
};

describe('integration: vifctl', function () {
  this.timeout(60_000);
  let dir: string;
  let config: string;
  let server: ControlServer;
  let brokenLibvirt: NodeJS.ProcessEnv;
  const calls: { method: string; params: unknown }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vifd-test-vifctl-'));
    const socket = join(dir, 'ctl.sock');
    config = join(dir, 'vifd.yaml');
    writeFileSync(config, `control_socket: ${socket}\nlibvirt: { uri: "test:///default" }\nnetworks: { prod: { bridge: br-prod, vlan: 100, mtu: 9000 }, storage: { bridge: br-stor, trunks: "200-202" }, mgmt: { bridge: br-mgmt } }\n`);
    const record = (method: string, result: unknown) => (params: unknown): Promise<unknown> => { calls.push({ method, params }); return Promise.resolve(result); };
    server = await ControlServer.listen(socket, {
      status: record('status', { vifs: VIFS }),
      info: record('info', INFO),
      attach: async (params) => {
        calls.push({ method: 'attach', params });
        if ((params as { network?: string }).network === 'full') throw new LimitExceededError('asks for 8 VIFs; the limit is 7', { domain: 'web1' });
        await new Promise((resolve) => setTimeout(resolve, 2500)); // long enough for the progress line to be redrawn
        return { domain: 'web1', uuid: VIFS[0]?.uuid, index: 2, device: 'vdu2vyz32zb-2', mac: '52:54:00:00:00:02', bridge: 'br-prod', vlan: 'access 100', persistent: true };
      },
    });
    // A libvirt.so.0 that the dynamic loader finds first and cannot load.
    const libs = join(dir, 'lib');
    rmSync(libs, { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(libs);
    writeFileSync(join(libs, 'libvirt.so.0'), 'not a shared library\n');
    brokenLibvirt = { LD_LIBRARY_PATH: libs };
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => { calls.length = 0; });

  describe('--help and --version', () => {
    for (const name of SUBCOMMANDS) {
      it(`vifctl ${name} --help prints its usage on stdout and exits 0, even without libvirt`, async () => {
        // -h and --help anywhere win over arguments that would be a usage error.
        const args = name === 'status' ? [name, 'extra', '--bogus', '-h'] : [name, '--help'];
        const result = await vifctl(args, brokenLibvirt);
        assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
        assert.match(result.stdout, new RegExp(`^usage: vifctl ${name} `));
        assert.match(result.stdout, /--json/);
        assert.equal(result.stderr, '');
      });
    }

    it('vifctl --help lists every subcommand; no command is a usage error on stderr', async () => {
      const help = await vifctl(['--help']);
      assert.equal(help.code, 0);
      for (const name of SUBCOMMANDS) assert.match(help.stdout, new RegExp(`^  ${name} `, 'm'));
      const none = await vifctl([]);
      assert.equal(none.code, 2);
      assert.equal(none.stdout, '');
      assert.match(none.stderr, /^usage: vifctl <command>/);
    });

    it('vifctl --version prints package.json\'s version', async () => {
      for (const flag of ['--version', '-V']) {
        const result = await vifctl([flag]);
        assert.equal(result.code, 0);
        assert.equal(result.stdout, `vifctl ${VERSION}\n`);
      }
    });

    it('a usage error prints the subcommand\'s help on stderr and exits 2', async () => {
      const result = await vifctl(['status', '--state', 'sideways']);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^vifctl status: --state "sideways" is not one of ok, drift, missing, orphan, detaching\nusage: vifctl status /);
    });
  });

  describe('on a host where libvirt.so.0 cannot be loaded', () => {
    it('the broken library really breaks libvirt: events says so, exit 1, no stack trace', async () => {
      const result = await vifctl(['events', '--config', config], brokenLibvirt);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^vifctl: cannot load libvirt's library \(libvirt\.so\.0, Debian package libvirt0\): .*libvirt\.so\.0/);
      assert.doesNotMatch(result.stderr, /\n\s+at /);
    });

    it('plan, define --print, status and info work', async () => {
      const plan = await vifctl(['plan', WEB1, '--config', config], brokenLibvirt);
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, /^VM "web1" 6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b: 3 of 7 VIFs/);
      const print = await vifctl(['define', WEB1, '--config', config, '--print'], brokenLibvirt);
      assert.equal(print.code, 0, print.stderr);
      assert.match(print.stdout, /<target dev='vdu2vyz32zb-0' managed='no'\/>/);
      for (const command of ['status', 'info']) {
        const result = await vifctl([command, '--config', config], brokenLibvirt);
        assert.equal(result.code, 0, `${command}: ${result.stderr}`);
      }
    });

    it('define refuses with the reason as JSON when it needs libvirt', async () => {
      const result = await vifctl(['define', WEB1, '--config', config, '--json'], brokenLibvirt);
      assert.equal(result.code, 1);
      const answer = JSON.parse(result.stdout) as { ok: boolean; code: string };
      assert.deepEqual([answer.ok, answer.code], [false, 'libvirt-unavailable']);
    });
  });

  describe('the config file', () => {
    it('gives every daemon command its control socket', async () => {
      const result = await vifctl(['status', '--config', config, '--json']);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(calls.map((call) => call.method), ['status']);
    });

    it('gives define and events its libvirt URI (test:///default, in process)', async () => {
      const defined = await vifctl(['define', WEB1, '--config', config]);
      assert.equal(defined.code, 0, defined.stderr);
      assert.match(defined.stdout, /^defined VM "web1" /);
      const other = join(dir, 'bad-uri.yaml');
      writeFileSync(other, readFileSync(config, 'utf8').replace('test:///default', 'vifdtest:///nowhere'));
      const refused = await vifctl(['define', WEB1, '--config', other]);
      assert.equal(refused.code, 1);
      assert.match(refused.stdout, /vifdtest:\/\/\/nowhere/);
      const events = await runCli(['timeout', '--signal=INT', '2', process.execPath, VIFCTL, 'events', '--config', config]);
      assert.match(events.stdout, /^\S+ connection open test:\/\/\/default$/m);
    });

    it('a --config that does not exist is an error; a missing default file means the defaults', async () => {
      const result = await vifctl(['status', '--config', join(dir, 'absent.yaml')]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^vifctl status: .*absent\.yaml: no such file$/m);
      const missingDefault = await vifctl(['status', '--socket', join(dir, 'none.sock')]);
      assert.equal(missingDefault.code, 3); // went on to the socket
    });
  });

  describe('status', () => {
    it('quotes in the table only the names that need it', async () => {
      const result = await vifctl(['status', '--config', config]);
      assert.equal(result.code, 0, result.stderr);
      const rows = result.stdout.trimEnd().split('\n').slice(1).map((line) => line.split(/\s{2,}/)[0]);
      assert.deepEqual(rows, ['web1', 'web1', '"my vm"', '"tab\\there"', '-']);
    });

    it('narrows to one VM by name or UUID, and to states', async () => {
      const devices = async (...args: string[]): Promise<string[]> => {
        const result = await vifctl(['status', '--config', config, '--json', ...args]);
        assert.equal(result.code, 0, result.stderr);
        return (JSON.parse(result.stdout) as { vifs: VifStatus[] }).vifs.map((row) => `${row.domain ?? '-'}/${row.index ?? '-'}`);
      };
      assert.deepEqual(await devices('web1'), ['web1/0', 'web1/1']);
      assert.deepEqual(await devices('6F1E2C3A-8B4D-4E5F-9A0B-1C2D3E4F5A6B'), ['web1/0', 'web1/1']);
      assert.deepEqual(await devices('--state', 'drift'), ['web1/1']);
      assert.deepEqual(await devices('--state', 'orphan,missing'), ['tab\there/0', '-/4']);
      assert.deepEqual(await devices('--state', 'ok', '--state', 'orphan'), ['web1/0', 'my vm/0', '-/4']);
      assert.deepEqual(await devices('web1', '--state', 'ok'), ['web1/0']);
      assert.deepEqual(await devices('nobody'), []);
      const text = await vifctl(['status', 'nobody', '--state', 'drift', '--config', config]);
      assert.equal(text.stdout, 'no VIFs of VM "nobody" in state drift\n');
    });
  });

  describe('info', () => {
    it('prints version, uptime, connections and networks with their bridges, or JSON', async () => {
      const text = await vifctl(['info', '--config', config]);
      assert.equal(text.code, 0, text.stderr);
      const lines = text.stdout.split('\n');
      assert.equal(lines[0], `vifd 9.9.9 (node v20.0.0, pid 1234); vifctl ${VERSION}`);
      assert.equal(lines[1], 'up 1d 2h 3m 4s, since 2026-01-01T00:00:00.000Z');
      assert.ok(lines.includes('libvirt: connected (qemu:///system)'));
      assert.ok(lines.includes('ovsdb: disconnected (/db.sock)'));
      assert.ok(lines.includes('VIFs: 2 ok, 1 drift'));
      assert.ok(lines.some((line) => /^prod\s+br-prod\s+access 100\s+9000\s+yes$/.test(line)), text.stdout);
      assert.ok(lines.some((line) => /^lab\s+br-lab\s+untagged\s+-\s+MISSING$/.test(line)), text.stdout);
      const json = await vifctl(['info', '--config', config, '--json']);
      assert.deepEqual(JSON.parse(json.stdout), { ok: true, client: VERSION, ...INFO });
    });
  });

  describe('attach and detach at a terminal', () => {
    // script(1) gives vifctl a pty; the command string is fixed and the arguments come in the environment.
    // What the terminal received, with ESC shown as <ESC> and CR as <CR>.
    const atTerminal = async (args: string): Promise<{ code: number | null; stdout: string }> => {
      const result = await runCli(
        ['script', '--quiet', '--return', '--command', `exec "$VIFD_TEST_NODE" "$VIFD_TEST_VIFCTL" attach web1 --config "$VIFD_TEST_CONFIG" ${args}`, '/dev/null'],
        { env: { VIFD_TEST_NODE: process.execPath, VIFD_TEST_VIFCTL: VIFCTL, VIFD_TEST_CONFIG: config } },
      );
      return { code: result.code, stdout: result.stdout.replaceAll('\x1b', '<ESC>').replaceAll('\r', '<CR>') };
    };

    it('shows a progress line while waiting, erased before the result', async () => {
      const result = await atTerminal('--network prod');
      assert.equal(result.code, 0, result.stdout);
      assert.match(result.stdout, /^<CR><ESC>\[Kattaching a VIF to VM "web1": waiting for vifd \(0 s\)<CR><ESC>\[Kattaching a VIF to VM "web1": waiting for vifd \(1 s\)/);
      assert.match(result.stdout, /<CR><ESC>\[Kattached VIF 2 of VM "web1": device vdu2vyz32zb-2, .*<CR>\n$/);
    });

    it('shows none with --json, nor through a pipe, and erases it before an error', async () => {
      const json = await atTerminal('--network prod --json');
      assert.equal(json.code, 0);
      assert.match(json.stdout, /^\{"ok":true,/);
      const piped = await vifctl(['attach', 'web1', '--network', 'prod', '--config', config]);
      assert.equal(piped.stdout, 'attached VIF 2 of VM "web1": device vdu2vyz32zb-2, MAC 52:54:00:00:00:02, bridge br-prod, VLAN access 100 (live and persistent)\n');
      const refused = await atTerminal('--network full');
      assert.equal(refused.code, 1);
      assert.match(refused.stdout, /waiting for vifd \(0 s\)<CR><ESC>\[Kvifctl attach: VM "web1": asks for 8 VIFs; the limit is 7<CR>\n$/);
    });
  });
});
