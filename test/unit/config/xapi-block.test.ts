// The config file's `xapi:` block: absent, vifd does not follow XAPI; its
// errors name the field's path; its VIF limit defaults to the host's and may
// not pass the host's cap; a change to it takes a restart.
import assert from 'node:assert/strict';
import { diffConfig } from '../../../src/config/diff.js';
import { parseConfigText } from '../../../src/config/schema.js';
import { ConfigError } from '../../../src/model/errors.js';

const SOURCE = '/etc/vifd/vifd.yaml';
const HOST = '6a0c58b4-2f4e-4d4b-9f1a-0d3b1c2e4f50';

describe('config: the xapi: block', () => {
  it('is absent unless given; given empty, it takes every default (the local socket, the host\'s limit)', () => {
    assert.equal(parseConfigText('hypervisor: xen', SOURCE).xapi, undefined);
    const xapi = parseConfigText('vif_limit: { default: 5 }\nxapi:', SOURCE).xapi;
    assert.deepEqual(xapi && { ...xapi, transport: xapi.transport.kind === 'unix' ? xapi.transport.socketPath : '' },
      { transport: '/var/lib/xcp/xapi', credentialsFile: null, caFile: null, hostUuid: null, vifLimit: 5 });
  });

  it('reads an https transport with its credentials file, the host uuid and a limit of its own', () => {
    const xapi = parseConfigText(`xapi: { transport: "https://pool.example", credentials_file: /etc/vifd/xapi.cred, host_uuid: ${HOST.toUpperCase()}, vif_limit: 9 }\nvif_limit: { max: 16 }`, SOURCE).xapi;
    assert.equal(xapi?.transport.kind === 'url' && xapi.transport.url.href, 'https://pool.example/');
    assert.deepEqual(xapi && [xapi.credentialsFile, xapi.hostUuid, xapi.vifLimit], ['/etc/vifd/xapi.cred', HOST, 9]);
  });

  for (const [what, text, path, pattern] of [
    ['an unknown key', 'xapi: { transprot: "unix:/x" }', 'xapi.transprot', /unknown key/],
    ['https without credentials', 'xapi: { transport: "https://pool.example" }', 'xapi.credentials_file', /required with a https:\/\/ transport/],
    ['a relative socket', 'xapi: { transport: "unix:xapi" }', 'xapi.transport', /not an absolute socket path/],
    ['http to another host', 'xapi: { transport: "http://pool.example", credentials_file: /c }', 'xapi.transport', /only allowed to a loopback address/],
    ['a bad host uuid', 'xapi: { host_uuid: "host-a" }', 'xapi.host_uuid', /is not a UUID/],
    ['a limit above the host\'s cap', 'xapi: { vif_limit: 20 }\nvif_limit: { max: 16 }', 'xapi.vif_limit', /20 is above vif_limit\.max \(16\)/],
    ['a block that is not a mapping', 'xapi: [a]', 'xapi', /expected a mapping/],
  ] as const) {
    it(`refuses ${what}, naming ${path}`, () => {
      assert.throws(() => parseConfigText(text, SOURCE), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.path, path);
        assert.match(error.message, pattern);
        return true;
      });
    });
  }

  it('is a setting a reload cannot take over', () => {
    const before = parseConfigText(`xapi: { host_uuid: ${HOST} }`, SOURCE);
    const after = parseConfigText(`xapi: { host_uuid: ${HOST}, transport: "unix:/run/xapi.sock" }`, SOURCE);
    assert.deepEqual(diffConfig(before, after).needRestart, ['xapi']);
    assert.deepEqual(diffConfig(before, parseConfigText(`xapi: { host_uuid: ${HOST} }`, SOURCE)).settings, []);
  });

  it('xen.allowed_bridges: a list of bridge names, each checked by its path; a restart setting', () => {
    assert.equal(parseConfigText('hypervisor: xen\n', SOURCE).xen, undefined);
    assert.deepEqual(parseConfigText('xen: { allowed_bridges: [xenbr0, xapi1, xenbr0] }\n', SOURCE).xen, { allowedBridges: ['xenbr0', 'xapi1'] });
    assert.throws(() => parseConfigText('xen: { allowed_bridges: [xenbr0, "bridge-name-over-15-bytes"] }\n', SOURCE),
      (error: unknown) => error instanceof ConfigError && error.context.field === 'xen.allowed_bridges[1]');
    assert.throws(() => parseConfigText('xen: { allowed_bridges: xenbr0 }\n', SOURCE),
      (error: unknown) => error instanceof ConfigError && error.context.field === 'xen.allowed_bridges');
    assert.throws(() => parseConfigText('xen: { bridges: [xenbr0] }\n', SOURCE), (error: unknown) => error instanceof ConfigError && error.context.field === 'xen');
    const before = parseConfigText('xen: { allowed_bridges: [xenbr0] }\n', SOURCE);
    assert.deepEqual(diffConfig(before, parseConfigText('xen: { allowed_bridges: [xenbr1] }\n', SOURCE)).needRestart, ['xen.allowed_bridges']);
  });
});
