// The bytes vifctl sends: each daemon command's request line exactly as it
// was before vifctl typed its calls with api/protocol.ts (key order included;
// the daemons vifctl talks to may be older or newer than it). A raw socket
// server records the lines and answers each method with a canned result.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vifctl } from './cli-run.js';

const ATTACHED = { domain: 'web1', uuid: '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b', index: 2, device: 'vdu2vyz32zb-2', mac: '52:54:00:00:00:02',
  bridge: 'br-prod', vlan: 'access 100', persistent: true };
const RESULTS: Readonly<Record<string, unknown>> = {
  status: { vifs: [] }, gc: { dryRun: true, orphans: [] }, attach: ATTACHED, detach: { ...ATTACHED, state: 'removed' },
};

describe('integration: vifctl requests on the wire', function () {
  this.timeout(30_000);
  let dir: string;
  let socket: string;
  let server: net.Server;
  const lines: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vifd-wire-'));
    socket = join(dir, 'vifd.sock');
    server = net.createServer((peer) => {
      let buffered = '';
      peer.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        for (let end = buffered.indexOf('\n'); end !== -1; end = buffered.indexOf('\n')) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 1);
          lines.push(line);
          const { id, method } = JSON.parse(line) as { id: number; method: string };
          peer.write(`${JSON.stringify({ jsonrpc: '2.0', id, result: RESULTS[method] ?? null })}\n`);
        }
      });
    });
    await new Promise<void>((resolve, reject) => { server.once('error', reject).listen(socket, resolve); });
  });
  after(async () => {
    await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => { lines.length = 0; });

  const cases: [readonly string[], string][] = [
    [['status'], '{"jsonrpc":"2.0","id":1,"method":"status","params":{}}'],
    [['status', 'web1', '--state', 'ok'], '{"jsonrpc":"2.0","id":1,"method":"status","params":{}}'],
    [['gc', '--dry-run'], '{"jsonrpc":"2.0","id":1,"method":"gc","params":{"dryRun":true}}'],
    [['gc'], '{"jsonrpc":"2.0","id":1,"method":"gc","params":{"dryRun":false}}'],
    [['attach', 'web1', '--vlan', '7', '--mac', '52:54:00:00:00:02', '--network', 'prod'],
      '{"jsonrpc":"2.0","id":1,"method":"attach","params":{"domain":"web1","network":"prod","mac":"52:54:00:00:00:02","vlan":"7"}}'],
    [['attach', 'web1', '--network', 'prod'], '{"jsonrpc":"2.0","id":1,"method":"attach","params":{"domain":"web1","network":"prod"}}'],
    [['detach', 'web1', '--index', '2'], '{"jsonrpc":"2.0","id":1,"method":"detach","params":{"domain":"web1","index":2}}'],
    [['detach', 'web1', '--mac', '52:54:00:00:00:02'], '{"jsonrpc":"2.0","id":1,"method":"detach","params":{"domain":"web1","mac":"52:54:00:00:00:02"}}'],
  ];
  for (const [args, line] of cases) {
    it(`vifctl ${args.join(' ')} sends ${line}`, async () => {
      const result = await vifctl([...args, '--socket', socket, '--json']);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(lines, [line]);
    });
  }

  it('sends info with empty params and shows the answer it got', async () => {
    const result = await vifctl(['info', '--socket', socket, '--json']);
    assert.deepEqual(lines, ['{"jsonrpc":"2.0","id":1,"method":"info","params":{}}']);
    // The canned answer is null: vifctl still prints what it was given, it does not invent fields.
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\{"ok":true,"client":"[^"]+"\}\n$/);
  });
});
