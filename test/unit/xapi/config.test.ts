import assert from 'node:assert/strict';
import { InvalidInputError } from '../../../src/model/errors.js';
import { installationUuid, parseXapiConfig } from '../../../src/xapi/config.js';
import { parseEndpoint, withHost } from '../../../src/xapi/transport.js';

const UUID = '8f6d1c2a-3b4c-4d5e-8f90-a1b2c3d4e5f6';

function fieldOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, String(error));
    return error.context.field;
  }
  assert.fail('expected an InvalidInputError');
}

describe('unit: xapi config block', () => {
  it('defaults to the local unix socket, no credentials, limit 7, host uuid from the inventory', () => {
    const config = parseXapiConfig(undefined);
    assert.deepEqual(config.transport, { kind: 'unix', socketPath: '/var/lib/xcp/xapi' });
    assert.equal(config.credentialsFile, null);
    assert.equal(config.hostUuid, null);
    assert.equal(config.vifLimit, 7);
    assert.deepEqual(parseXapiConfig({}), config);
  });

  it('takes https with a credentials file and CA, a host uuid and a limit', () => {
    const config = parseXapiConfig({
      transport: 'https://pool.example:8443', credentials_file: '/etc/vifd/xapi.cred', ca_file: '/etc/vifd/ca.pem',
      host_uuid: UUID.toUpperCase(), vif_limit: 16,
    });
    assert.equal(config.transport.kind === 'url' && config.transport.url.host, 'pool.example:8443');
    assert.equal(config.credentialsFile, '/etc/vifd/xapi.cred');
    assert.equal(config.caFile, '/etc/vifd/ca.pem');
    assert.equal(config.hostUuid, UUID);
    assert.equal(config.vifLimit, 16);
  });

  const bad: [string, unknown, string][] = [
    ['not a mapping', 'unix:/x', 'xapi'],
    ['an unknown key', { transprot: 'unix:/x' }, 'xapi.transprot'],
    ['a relative socket', { transport: 'unix:xapi' }, 'xapi.transport'],
    ['another scheme', { transport: 'ftp://h' }, 'xapi.transport'],
    ['http to a remote host', { transport: 'http://10.0.0.1', credentials_file: '/c' }, 'xapi.transport'],
    ['credentials in the URL', { transport: 'https://root:pw@h', credentials_file: '/c' }, 'xapi.transport'],
    ['https without credentials', { transport: 'https://h' }, 'xapi.credentials_file'],
    ['a relative credentials file', { transport: 'https://h', credentials_file: 'xapi.cred' }, 'xapi.credentials_file'],
    ['a CA file with the unix socket', { ca_file: '/ca.pem' }, 'xapi.ca_file'],
    ['a bad host uuid', { host_uuid: 'host-a' }, 'xapi.host_uuid'],
    ['a zero limit', { vif_limit: 0 }, 'xapi.vif_limit'],
    ['a fractional limit', { vif_limit: 7.5 }, 'xapi.vif_limit'],
  ];
  for (const [what, value, field] of bad) {
    it(`refuses ${what}, naming ${field}`, () => assert.equal(fieldOf(() => parseXapiConfig(value)), field));
  }

  it('allows http:// to loopback (tests) and uses the path given for errors', () => {
    assert.equal(parseXapiConfig({ transport: 'http://127.0.0.1:8080', credentials_file: '/c' }).transport.kind, 'url');
    assert.equal(fieldOf(() => parseXapiConfig({ vif_limit: -1 }, 'hosts.a.xapi')), 'hosts.a.xapi.vif_limit');
  });

  it('reads INSTALLATION_UUID from the inventory, quoted or not', () => {
    assert.equal(installationUuid(`PRODUCT_BRAND='XCP-ng'\nINSTALLATION_UUID='${UUID}'\n`, '/inv'), UUID);
    assert.equal(installationUuid(`INSTALLATION_UUID=${UUID}`, '/inv'), UUID);
    assert.throws(() => installationUuid("PRODUCT_BRAND='XCP-ng'\n", '/inv'), /^InvalidInputError: \/inv: INSTALLATION_UUID: no INSTALLATION_UUID line/);
    assert.throws(() => installationUuid("INSTALLATION_UUID='nope'\n", '/inv'), /^InvalidInputError: \/inv: INSTALLATION_UUID: "nope" is not a UUID/);
  });

  it('follows HOST_IS_SLAVE to another host name, keeping scheme and port', () => {
    const endpoint = parseEndpoint('https://10.0.0.2:8443');
    const moved = withHost(endpoint, '10.0.0.1');
    assert.equal(moved.kind === 'url' && moved.url.href, 'https://10.0.0.1:8443/');
    const v6 = withHost(endpoint, 'fd00::1');
    assert.equal(v6.kind === 'url' && v6.url.host, '[fd00::1]:8443');
    const unix = parseEndpoint('unix:/var/lib/xcp/xapi');
    assert.equal(withHost(unix, '10.0.0.1'), unix);
  });
});
