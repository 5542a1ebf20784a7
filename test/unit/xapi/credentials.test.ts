import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { checkCredentialsMode, formatMode, parseCredentials } from '../../../src/xapi/credentials.js';
import { XapiCredentialsError } from '../../../src/xapi/errors.js';

const FILE = '/etc/vifd/xapi.cred';
const regular = (permissions: number): number => constants.S_IFREG | permissions;

describe('unit: xapi credentials file', () => {
  it('accepts mode 0600 and 0400', () => {
    checkCredentialsMode(regular(0o600), FILE);
    checkCredentialsMode(regular(0o400), FILE);
  });

  for (const mode of [0o640, 0o644, 0o604, 0o660, 0o777]) {
    it(`refuses mode ${formatMode(mode)}, naming the file and the mode`, () => {
      assert.throws(() => checkCredentialsMode(regular(mode), FILE), (error: unknown) => {
        assert.ok(error instanceof XapiCredentialsError);
        assert.ok(error.message.startsWith(`${FILE}: has mode ${formatMode(mode)}`), error.message);
        assert.match(error.message, /must be mode 0600/);
        return true;
      });
    });
  }

  it('refuses a directory', () => {
    assert.throws(() => checkCredentialsMode(constants.S_IFDIR | 0o700, FILE), /is not a regular file/);
  });

  it('reads username and password; the password is kept exactly (spaces, =, #)', () => {
    assert.deepEqual(parseCredentials('# pool master\nusername = root\npassword= s3=cr #t \n', FILE),
      { username: 'root', password: ' s3=cr #t ' });
    assert.deepEqual(parseCredentials('username=root\r\npassword=\r\n', FILE), { username: 'root', password: '' });
  });

  it('names the file and what is wrong', () => {
    assert.throws(() => parseCredentials('username=root\n', FILE), new RegExp(`: ${FILE}: password: no password= line`));
    assert.throws(() => parseCredentials('password=x\n', FILE), /username: no username= line/);
    assert.throws(() => parseCredentials('user=root\npassword=x\n', FILE), /line 1: expected username=/);
    assert.throws(() => parseCredentials('just a password\n', FILE), /line 1: expected username=/);
    assert.throws(() => parseCredentials('username=a\nusername=b\npassword=x', FILE), /line 2: username given twice/);
  });
});
