import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigDiff } from '../../../src/config/diff.js';
import type { HostConfig } from '../../../src/config/schema.js';
import { parseConfigText } from '../../../src/config/schema.js';
import { ConfigReloader } from '../../../src/cli/vifd-reload.js';
import type { EngineLog } from '../../../src/engine/types.js';

function recorder(): EngineLog & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (message: string): void => { lines.push(`${level}: ${message}`); };
  return { lines, error: add('error'), warn: add('warn'), info: add('info'), debug: add('debug') };
}

describe('cli/vifd-reload: SIGHUP', () => {
  let dir: string;
  let path: string;
  const initial = parseConfigText('networks: { a: { bridge: br0 } }', 'x');
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'vifd-test-reload-')); path = join(dir, 'vifd.yaml'); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('applies a valid changed file, between RELOADING=1 and READY=1', async () => {
    const log = recorder();
    const events: string[] = [];
    const applied: [HostConfig, ConfigDiff][] = [];
    const reloader = new ConfigReloader({
      path, initial, log,
      apply: (next, diff) => { events.push('apply'); applied.push([next, diff]); return Promise.resolve(); },
      notify: { reloading: () => events.push('reloading') > 0, ready: () => events.push('ready') > 0 },
    });
    writeFileSync(path, 'networks: { a: { bridge: br0 }, b: { bridge: br1 } }');
    assert.equal(await reloader.reload(), 'applied');
    assert.deepEqual(events, ['reloading', 'apply', 'ready']);
    assert.deepEqual(applied[0]?.[1].added, ['b']);
    assert.ok(reloader.current.networks.has('b'));
    assert.deepEqual(log.lines, [`info: reload: applied ${path}: networks added: b`]);
    assert.equal(await reloader.reload(), 'unchanged');
  });

  it('refuses an invalid or missing file and keeps the running config', async () => {
    const log = recorder();
    let readies = 0;
    const reloader = new ConfigReloader({ path, initial, log, apply: () => Promise.reject(new Error('must not run')), notify: { reloading: () => true, ready: () => (readies += 1) > 0 } });
    writeFileSync(path, 'networks: { a: { bridge: br0, vlan: 0 } }\nlog: { level: loud }');
    assert.equal(await reloader.reload(), 'refused');
    assert.equal(reloader.current, initial);
    assert.deepEqual(log.lines, [
      `error: reload refused: ${path}: log.level: "loud" is not one of error, warn, info, debug`,
      `error: reload refused: ${path}: networks.a.vlan: 0 is outside 1-4094`,
      `error: reload refused: ${path}: 2 errors`,
      `error: reload refused: kept the running config; fix ${path} and reload again`,
    ]);
    rmSync(path);
    assert.equal(await reloader.reload(), 'refused');
    assert.equal(readies, 2);
  });

  it('keeps the running config when applying fails, and reports changes it cannot apply', async () => {
    writeFileSync(path, 'networks: { b: { bridge: br1 } }');
    const failing = new ConfigReloader({ path, initial, log: recorder(), apply: () => Promise.reject(new Error('ovsdb is gone')) });
    assert.equal(await failing.reload(), 'failed');
    assert.equal(failing.current, initial);
    const log = recorder();
    const reportOnly = new ConfigReloader({ path, initial, log });
    assert.equal(await reportOnly.reload(), 'not-applied');
    assert.match(log.lines[0] ?? '', /^warn: reload: .* is valid \(networks added: b; networks removed: a\); this vifd applies config changes on restart only/);
  });

  it('never overlaps reloads: a SIGHUP during one runs one more after it', async () => {
    writeFileSync(path, 'networks: { b: { bridge: br1 } }');
    let running = 0;
    let most = 0;
    let applies = 0;
    const reloader = new ConfigReloader({
      path, initial, log: recorder(),
      apply: async () => {
        running += 1; most = Math.max(most, running); applies += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
        running -= 1;
        writeFileSync(path, `networks: { b: { bridge: br${applies + 1} } }`);
      },
    });
    const outcomes = await Promise.all([reloader.reload(), reloader.reload(), reloader.reload()]);
    assert.equal(most, 1);
    assert.equal(applies, 2);
    assert.deepEqual(outcomes, ['applied', 'applied', 'applied']);
  });
});
