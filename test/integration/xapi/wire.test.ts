// The simulator's wire format checked byte-level with plain node:http (what
// xen-api depends on: exact content type, reply shapes), and the path from a
// parsed xapi: block with a real credentials file to a logged-in client.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseXapiConfig, resolveHostUuid } from '../../../src/xapi/config.js';
import { createXapiClient } from '../../../src/xapi/connect.js';
import { readCredentialsFile } from '../../../src/xapi/credentials.js';
import { XapiCredentialsError } from '../../../src/xapi/errors.js';
import { XapiSimulator } from '../../harness/xapi-sim/simulator.js';
import type { SimListener } from '../../harness/xapi-sim/server.js';

interface RawReply {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

function post(target: SimListener, body: string, path = '/jsonrpc'): Promise<RawReply> {
  const where = target.transport === 'tcp' ? { host: '127.0.0.1', port: target.port } : { socketPath: target.address };
  return new Promise((resolve, reject) => {
    const req = request({ ...where, path, method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text; // a 404 is plain text
        }
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const call = (target: SimListener, method: string, params: unknown[], extra: Record<string, unknown> = { jsonrpc: '2.0' }): Promise<RawReply> =>
  post(target, JSON.stringify({ ...extra, method, params, id: 0 }));

describe('integration: xapi simulator wire format', function () {
  this.timeout(10_000);
  let sim: XapiSimulator;
  let dir: string;

  beforeEach(() => {
    sim = new XapiSimulator();
    dir = mkdtempSync(join(tmpdir(), 'vifd-xapi-wire-'));
  });
  afterEach(async () => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of ['tcp', 'unix'] as const) {
    it(`answers JSON-RPC 2.0 over ${transport} with Content-Type exactly application/json`, async () => {
      const target = transport === 'tcp' ? await sim.listenTcp() : await sim.listenUnix(join(dir, 'xapi'));
      const login = await call(target, 'session.login_with_password', ['root', 'secret', '1.0', 'test']);
      assert.equal(login.contentType, 'application/json');
      assert.deepEqual(Object.keys(login.body as object).sort(), ['id', 'jsonrpc', 'result']);
      const session = (login.body as { result: string }).result;
      assert.match(session, /^OpaqueRef:[0-9a-f-]{36}$/);
      const failure = await call(target, 'VM.get_record', [session, 'OpaqueRef:nope']);
      assert.deepEqual(failure.body, { jsonrpc: '2.0', error: { code: 1, message: 'HANDLE_INVALID', data: ['VM', 'OpaqueRef:nope'] }, id: 0 });
      const methods = await call(target, 'system.listMethods', []);
      assert.ok(((methods.body as { result: string[] }).result).includes('VM.get_all_records'));
    });
  }

  it('answers v1 requests in the v1 shape, and 404 off /jsonrpc', async () => {
    const target = await sim.listenTcp();
    const ok = await call(target, 'session.login_with_password', ['root', 'secret'], {});
    assert.equal((ok.body as { error: unknown }).error, null);
    const bad = await call(target, 'session.login_with_password', ['root', 'wrong'], {});
    assert.deepEqual(bad.body, { result: null, error: ['SESSION_AUTHENTICATION_FAILED'], id: 0 });
    assert.equal((await post(target, '{}', '/xmlrpc')).status, 404);
  });

  it('checks the parameter count before the session, and the session before anything else', async () => {
    const target = await sim.listenTcp();
    const count = await call(target, 'VM.get_all_records', []);
    assert.deepEqual((count.body as { error: unknown }).error, { code: 1, message: 'MESSAGE_PARAMETER_COUNT_MISMATCH', data: ['VM.get_all_records', '1', '0'] });
    const session = await call(target, 'VM.get_all_records', ['OpaqueRef:stale']);
    assert.deepEqual((session.body as { error: unknown }).error, { code: 1, message: 'SESSION_INVALID', data: ['OpaqueRef:stale'] });
  });

  it('local unix-socket logins need no password; TCP logins do', async () => {
    const unix = await sim.listenUnix(join(dir, 'xapi'));
    const tcp = await sim.listenTcp();
    assert.match(((await call(unix, 'session.login_with_password', ['root', ''])).body as { result: string }).result, /^OpaqueRef:/);
    assert.equal(((await call(tcp, 'session.login_with_password', ['root', ''])).body as { error: { message: string } }).error.message, 'SESSION_AUTHENTICATION_FAILED');
  });

  it('from an xapi: block and a 0600 credentials file to a logged-in client', async () => {
    const target = await sim.listenTcp();
    const file = join(dir, 'xapi.cred');
    writeFileSync(file, 'username=root\npassword=secret\n', { mode: 0o600 });
    const inventory = join(dir, 'xensource-inventory');
    const hostUuid = sim.host(0).uuid;
    writeFileSync(inventory, `PRODUCT_BRAND='XCP-ng'\nINSTALLATION_UUID='${hostUuid}'\n`);
    const config = parseXapiConfig({ transport: target.url, credentials_file: file });
    assert.equal(await resolveHostUuid(config, inventory), hostUuid);
    const client = await createXapiClient(config);
    try {
      assert.equal(await client.call('host.get_name_label', await client.call('host.get_by_uuid', hostUuid)), 'host-a');
    } finally {
      client.close();
    }
  });

  it('refuses a credentials file others can read, and a symbolic link', async () => {
    const file = join(dir, 'xapi.cred');
    writeFileSync(file, 'username=root\npassword=secret\n');
    chmodSync(file, 0o644);
    await assert.rejects(readCredentialsFile(file), (error: unknown) =>
      error instanceof XapiCredentialsError && error.message.startsWith(`${file}: has mode 0644`));
    chmodSync(file, 0o600);
    assert.deepEqual(await readCredentialsFile(file), { username: 'root', password: 'secret' });
    const link = join(dir, 'link.cred');
    symlinkSync(file, link);
    await assert.rejects(readCredentialsFile(link), /is a symbolic link/);
    await assert.rejects(readCredentialsFile(join(dir, 'missing')), /cannot open: ENOENT/);
  });
});
