// Until XAPI's records are loaded the XAPI source cannot say which XAPI VMs
// live: it refuses to list or look up (a reconcile or GC then fails) instead
// of answering "none", which would take every XAPI VM's ports for orphans.
import assert from 'node:assert/strict';
import { XapiNotLoadedError, XapiWiring } from '../../../src/daemon/xapi.js';
import { XEN_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import { parseXapiConfig } from '../../../src/xapi/config.js';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

describe('daemon/xapi: before XAPI\'s records are loaded', () => {
  const wiring = new XapiWiring(parseXapiConfig({ transport: 'unix:/nonexistent/xapi.sock' }), {
    limits: () => ({ defaultLimit: 7, maxLimit: 16, hostDefault: 7 }), exists: () => false, fakeBridge: () => null,
    onChange: () => undefined, log: quiet, macPrefix: parseMacPrefix(XEN_MAC_PREFIX),
  });

  it('refuses to list VMs, naming where XAPI is', async () => {
    await assert.rejects(wiring.list(), (error: unknown) => {
      assert.ok(error instanceof XapiNotLoadedError, String(error));
      assert.equal(error.code, 'xapi-not-loaded');
      assert.match(error.message, /\/nonexistent\/xapi\.sock/);
      return true;
    });
  });

  it('refuses to look a VM up', async () => {
    await assert.rejects(wiring.get('3f2504e0-4f89-11d3-9a0c-0305e82c3301'), XapiNotLoadedError);
  });
});
