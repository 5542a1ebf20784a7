// XAPI over https, as vifd reaches a remote pool: a self-signed certificate
// made with openssl for 127.0.0.1, trusted by vifd's client through its CA
// option and refused without it; xen-api (allowUnauthorized) sees the same.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sinon from 'sinon';
import { XapiClient } from '../../../src/xapi/client.js';
import { XapiTransportError } from '../../../src/xapi/errors.js';
import { parseEndpoint } from '../../../src/xapi/transport.js';
import { commandExists, run } from '../../harness/exec.js';
import { XapiSimulator } from '../../harness/xapi-sim/simulator.js';
import type { SimListener } from '../../harness/xapi-sim/server.js';
import { createXenApiClient } from '../../harness/xapi-sim/xen-api.js';

const CREDENTIALS = { username: 'root', password: 'secret' };

describe('integration: XAPI over https', function () {
  this.timeout(20_000);
  let dir: string | undefined;
  let cert: string;
  let key: string;
  let sim: XapiSimulator;
  let listener: SimListener;

  before(async function () {
    if (!(await commandExists('openssl'))) {
      // The same rule as harness/prereq.ts: with CI=true a missing prerequisite fails the run.
      if (process.env.CI === 'true') throw new Error('missing prerequisites: the openssl command');
      console.warn('      skipped: missing prerequisites: the openssl command');
      this.skip();
    }
    const made = mkdtempSync(join(tmpdir(), 'vifd-xapi-tls-'));
    dir = made;
    await run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(made, 'key.pem'), '-out', join(made, 'cert.pem')]);
    cert = readFileSync(join(made, 'cert.pem'), 'utf8');
    key = readFileSync(join(made, 'key.pem'), 'utf8');
  });
  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    sim = new XapiSimulator();
    listener = await sim.listenTcp('127.0.0.1', 0, { key, cert });
  });
  afterEach(async () => {
    await sim.stop();
    sinon.restore();
  });

  it("vifd's client trusts the host through the CA given, and logs in", async () => {
    assert.match(listener.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const client = new XapiClient({ endpoint: parseEndpoint(listener.url), credentials: CREDENTIALS, ca: cert });
    try {
      assert.equal(await client.call('pool.get_name_label', sim.pool.ref), 'vifd-sim');
    } finally {
      client.close();
    }
  });

  it('refuses a certificate it was not told to trust', async () => {
    const client = new XapiClient({ endpoint: parseEndpoint(listener.url), credentials: CREDENTIALS });
    try {
      await assert.rejects(client.login(), (error: unknown) => error instanceof XapiTransportError && /self-signed|certificate/i.test(error.message));
    } finally {
      client.close();
    }
  });

  it('xen-api connects over https as it does to a real host', async () => {
    sinon.stub(console, 'warn');
    const xapi = await createXenApiClient({ url: listener.url, auth: { user: 'root', password: 'secret' }, allowUnauthorized: true });
    await xapi.connect();
    await xapi.objectsFetched;
    assert.equal(xapi.getObjectByUuid(sim.host(0).uuid, null)?.name_label, 'host-a');
    await xapi.disconnect();
  });
});
