import assert from 'node:assert/strict';
import { COLLECT_ERRORS_METRIC, CONTENT_TYPE, MetricsRegistry, startMetricsServer } from '../../../src/api/metrics.js';
import type { MetricsServer } from '../../../src/api/metrics.js';

// prom-client's exposition: each metric's lines, metrics separated by an
// empty line (which the text format ignores).

/** What every registry renders first: its own collect-error counter. */
const BUILTIN = [
  `# HELP ${COLLECT_ERRORS_METRIC} Collect hooks that failed during a scrape; the scrape still returned the other metrics.`,
  `# TYPE ${COLLECT_ERRORS_METRIC} counter`,
  `${COLLECT_ERRORS_METRIC} 0`,
  '',
].join('\n');

/** The exposition after the built-in counter, which must be rendered exactly as BUILTIN. */
async function ownText(registry: MetricsRegistry): Promise<string> {
  const text = await registry.render();
  assert.ok(text.startsWith(BUILTIN), `expected the built-in counter first, got:\n${text}`);
  return text.slice(BUILTIN.length);
}

/** Each argument is one metric's lines; every metric after the built-in one is preceded by an empty line. */
function lines(...metrics: (string | readonly string[])[]): string {
  const groups: string[][] = [];
  for (const item of metrics) {
    if (typeof item === 'string' && item.startsWith('# HELP ')) groups.push([item]);
    else if (typeof item === 'string') {
      const group = groups.at(-1);
      if (group === undefined) throw new Error(`lines(): ${JSON.stringify(item)} comes before any # HELP line`);
      group.push(item);
    } else groups.push([...item]);
  }
  return groups.map((group) => `\n${group.map((line) => `${line}\n`).join('')}`).join('');
}

function throwsMessage(work: () => unknown, pattern: RegExp): void {
  assert.throws(work, (error: unknown) => {
    assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('api/metrics: registry and text exposition', () => {
  it('renders the built-in collect-error counter at 0 on an empty registry', async () => {
    assert.equal(await new MetricsRegistry().render(), BUILTIN);
  });

  it('renders counters, unlabeled from 0 and labeled in insertion order', async () => {
    const registry = new MetricsRegistry();
    const plugs = registry.counter('vifd_plugs_total', 'VIFs plugged.', []);
    const errors = registry.counter('vifd_errors_total', 'Errors by kind.', ['kind', 'backend']);
    assert.equal(await ownText(registry), lines(
      '# HELP vifd_plugs_total VIFs plugged.', '# TYPE vifd_plugs_total counter', 'vifd_plugs_total 0',
      '# HELP vifd_errors_total Errors by kind.', '# TYPE vifd_errors_total counter',
    ));
    plugs.inc();
    plugs.inc(undefined, 2.5);
    errors.inc({ kind: 'ovsdb', backend: 'tap' });
    errors.inc({ backend: 'sriov', kind: 'libvirt' }, 3);
    errors.inc({ backend: 'tap', kind: 'ovsdb' });
    assert.equal(await ownText(registry), lines(
      '# HELP vifd_plugs_total VIFs plugged.', '# TYPE vifd_plugs_total counter', 'vifd_plugs_total 3.5',
      '# HELP vifd_errors_total Errors by kind.', '# TYPE vifd_errors_total counter',
      'vifd_errors_total{kind="ovsdb",backend="tap"} 2',
      'vifd_errors_total{kind="libvirt",backend="sriov"} 3',
    ));
  });

  it('refuses to move a counter down or by a non-finite amount', () => {
    const counter = new MetricsRegistry().counter('c_total', 'c', []);
    for (const by of [-1, Number.NaN, Infinity]) throwsMessage(() => counter.inc(undefined, by), /^metric c_total: a counter only goes up/);
  });

  it('renders gauges set, moved and reset, with +Inf, -Inf and NaN spelled as Prometheus parses them', async () => {
    const registry = new MetricsRegistry();
    const up = registry.gauge('vifd_up', 'Whether vifd is up.', []);
    const rx = registry.gauge('vifd_vif_rx_bytes', 'Bytes received by the VIF.', ['vm', 'vif']);
    up.set({}, 1);
    up.inc();
    up.dec(undefined, 0.5);
    rx.set({ vm: 'web', vif: '0' }, 1024);
    rx.set({ vm: 'web', vif: '1' }, Infinity);
    rx.set({ vm: 'db', vif: '0' }, -Infinity);
    rx.set({ vm: 'db', vif: '1' }, Number.NaN);
    rx.inc({ vm: 'web', vif: '0' }, 1);
    rx.dec({ vm: 'web', vif: '0' }, 5);
    const head = ['# HELP vifd_up Whether vifd is up.', '# TYPE vifd_up gauge', 'vifd_up 1.5',
      '# HELP vifd_vif_rx_bytes Bytes received by the VIF.', '# TYPE vifd_vif_rx_bytes gauge'];
    assert.equal(await ownText(registry), lines(...head,
      'vifd_vif_rx_bytes{vm="web",vif="0"} 1020',
      'vifd_vif_rx_bytes{vm="web",vif="1"} +Inf',
      'vifd_vif_rx_bytes{vm="db",vif="0"} -Inf',
      'vifd_vif_rx_bytes{vm="db",vif="1"} Nan', // prom-client's spelling; Go's ParseFloat ignores case
    ));
    rx.reset();
    rx.set({ vm: 'db', vif: '1' }, 7);
    assert.equal(await ownText(registry), lines(...head, 'vifd_vif_rx_bytes{vm="db",vif="1"} 7'));
    // An unlabeled metric always has its one sample (alerts see 0, not a gap): reset brings it back to 0.
    up.reset();
    assert.equal(await ownText(registry), lines('# HELP vifd_up Whether vifd is up.', '# TYPE vifd_up gauge', 'vifd_up 0', ...head.slice(3),
      'vifd_vif_rx_bytes{vm="db",vif="1"} 7'));
  });

  it('renders numbers in a form Prometheus parses (Go ParseFloat, case-insensitive for NaN and Inf)', async () => {
    const registry = new MetricsRegistry();
    const gauge = registry.gauge('g', 'g', ['v']);
    const values = [Infinity, -Infinity, Number.NaN, 0, -0, 1.5, 1e21];
    values.forEach((value, i) => { gauge.set({ v: String(i) }, value); });
    const samples = [...(await registry.render()).matchAll(/^g\{v="(\d)"\} (\S+)$/gm)].map((match) => match[2]);
    assert.deepEqual(samples, ['+Inf', '-Inf', 'Nan', '0', '0', '1.5', '1e+21']);
  });

  it('renders histograms with cumulative buckets, +Inf, _sum and _count (le first, as prom-client orders it)', async () => {
    const registry = new MetricsRegistry();
    const plug = registry.histogram('vifd_plug_seconds', 'Time to plug a VIF.', ['backend'], [0.1, 0.5, 1]);
    const bare = registry.histogram('vifd_scan_seconds', 'Time to scan.', [], [1, Infinity]);
    for (const value of [0.05, 0.1, 0.3, 0.7, 2]) plug.observe({ backend: 'tap' }, value);
    plug.observe({ backend: 'sriov' }, 0.2);
    bare.observe({}, 3);
    assert.equal(await ownText(registry), lines(
      '# HELP vifd_plug_seconds Time to plug a VIF.', '# TYPE vifd_plug_seconds histogram',
      'vifd_plug_seconds_bucket{le="0.1",backend="tap"} 2',
      'vifd_plug_seconds_bucket{le="0.5",backend="tap"} 3',
      'vifd_plug_seconds_bucket{le="1",backend="tap"} 4',
      'vifd_plug_seconds_bucket{le="+Inf",backend="tap"} 5',
      'vifd_plug_seconds_sum{backend="tap"} 3.15',
      'vifd_plug_seconds_count{backend="tap"} 5',
      'vifd_plug_seconds_bucket{le="0.1",backend="sriov"} 0',
      'vifd_plug_seconds_bucket{le="0.5",backend="sriov"} 1',
      'vifd_plug_seconds_bucket{le="1",backend="sriov"} 1',
      'vifd_plug_seconds_bucket{le="+Inf",backend="sriov"} 1',
      'vifd_plug_seconds_sum{backend="sriov"} 0.2',
      'vifd_plug_seconds_count{backend="sriov"} 1',
      '# HELP vifd_scan_seconds Time to scan.', '# TYPE vifd_scan_seconds histogram',
      'vifd_scan_seconds_bucket{le="1"} 0',
      'vifd_scan_seconds_bucket{le="+Inf"} 1',
      'vifd_scan_seconds_sum 3',
      'vifd_scan_seconds_count 1',
    ));
  });

  it('refuses histogram buckets that are unordered or not finite, and NaN observations', async () => {
    const registry = new MetricsRegistry();
    for (const buckets of [[1, 1], [2, 1], [Number.NaN], [-Infinity, 1], [1, Infinity, 2]]) {
      throwsMessage(() => registry.histogram('h', 'h', [], buckets), /^metric h: buckets must be finite and strictly increasing/);
    }
    const histogram = registry.histogram('h', 'h', [], []);
    throwsMessage(() => histogram.observe({}, Number.NaN), /^metric h: cannot observe NaN$/);
    assert.match(await registry.render(), /^h_bucket\{le="\+Inf"\} 0$/m);
  });

  it('escapes a hostile VM name in label values, and backslashes and newlines in help', async () => {
    const registry = new MetricsRegistry();
    const gauge = registry.gauge('vifd_vif_up', 'Line one\\two\nthree "quoted"', ['vm']);
    gauge.set({ vm: 'a"b\\c\nd' }, 1);
    gauge.set({ vm: '} 1\nvifd_fake 2' }, 1);
    assert.equal(await ownText(registry), lines(
      '# HELP vifd_vif_up Line one\\\\two\\nthree "quoted"', '# TYPE vifd_vif_up gauge',
      'vifd_vif_up{vm="a\\"b\\\\c\\nd"} 1',
      'vifd_vif_up{vm="} 1\\nvifd_fake 2"} 1',
    ));
  });

  it('keeps label sets apart even when their values look alike once joined', async () => {
    const registry = new MetricsRegistry();
    const gauge = registry.gauge('g', 'g', ['a', 'b']);
    gauge.set({ a: 'x,y', b: 'z' }, 1);
    gauge.set({ a: 'x', b: 'y,z' }, 2);
    assert.equal(await ownText(registry), lines('# HELP g g', '# TYPE g gauge', 'g{a="x,y",b="z"} 1', 'g{a="x",b="y,z"} 2'));
    // prom-client's own key ("a:x,b:y,b:z,") cannot tell these two apart: refused rather than merged.
    gauge.set({ a: 'x,b:y', b: 'z' }, 3);
    throwsMessage(() => gauge.set({ a: 'x', b: 'y,b:z' }, 4), /^metric g: label values \["x","y,b:z"\] and \["x,b:y","z"\] would be one series$/);
    assert.match(await registry.render(), /^g\{a="x,b:y",b="z"\} 3$/m);
    gauge.reset();
    gauge.set({ a: 'x', b: 'y,b:z' }, 4); // after a reset the other one may come
  });

  it('mirrors an outside counter: set to its value at each scrape, reset drops series that are gone', async () => {
    const registry = new MetricsRegistry();
    const bytes = registry.mirroredCounter('vifd_vif_bytes_total', 'Bytes.', ['vif', 'direction']);
    bytes.set({ vif: '0', direction: 'rx' }, 100);
    bytes.set({ vif: '0', direction: 'rx' }, 150);
    bytes.set({ vif: '1', direction: 'tx' }, 7);
    assert.equal(await ownText(registry), lines('# HELP vifd_vif_bytes_total Bytes.', '# TYPE vifd_vif_bytes_total counter',
      'vifd_vif_bytes_total{vif="0",direction="rx"} 150', 'vifd_vif_bytes_total{vif="1",direction="tx"} 7'));
    bytes.reset();
    bytes.set({ vif: '1', direction: 'tx' }, 9);
    assert.equal(await ownText(registry), lines('# HELP vifd_vif_bytes_total Bytes.', '# TYPE vifd_vif_bytes_total counter',
      'vifd_vif_bytes_total{vif="1",direction="tx"} 9'));
    for (const value of [-1, Number.NaN, Infinity]) throwsMessage(() => bytes.set({ vif: '1', direction: 'tx' }, value), /a counter only goes up/);
    throwsMessage(() => bytes.set({ vif: '1' } as { vif: string; direction: string }, 1), /label "direction" is missing/);
  });

  it('adds Node\'s process and event-loop metrics on request', async () => {
    const registry = new MetricsRegistry();
    assert.doesNotMatch(await registry.render(), /process_cpu_seconds_total/);
    registry.collectDefaultMetrics();
    const text = await registry.render();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
  });

  describe('names and labels', () => {
    for (const name of ['', '1abc', 'a-b', 'a b', 'métrique', 'a.b']) {
      it(`refuses the metric name ${JSON.stringify(name)}`, () => {
        const registry = new MetricsRegistry();
        throwsMessage(() => registry.counter(name, 'x', []), /^metric name .* is invalid: it must match/);
        throwsMessage(() => registry.gauge(name, 'x', []), /is invalid/);
        throwsMessage(() => registry.histogram(name, 'x', [], [1]), /is invalid/);
      });
    }

    it('accepts names with colons and underscores', () => {
      const registry = new MetricsRegistry();
      registry.counter('vifd:job:rate_5m', 'x', ['_private', 'A1']);
      registry.gauge('_x', 'x', []);
    });

    for (const [label, reason] of [
      ['1a', /must match/], ['a-b', /must match/], ['a:b', /must match/], ['__name', /names starting with __ are reserved to Prometheus/], ['', /must match/],
    ] as const) {
      it(`refuses the label name ${JSON.stringify(label)}`, () => {
        throwsMessage(() => new MetricsRegistry().gauge('g', 'x', [label]), new RegExp(`^metric g: label name "${label}" is invalid: ${reason.source}`));
      });
    }

    it('refuses a label declared twice, and le on a histogram', () => {
      const registry = new MetricsRegistry();
      throwsMessage(() => registry.counter('c', 'x', ['vm', 'vm']), /^metric c: label name "vm" is invalid: it is declared twice$/);
      throwsMessage(() => registry.histogram('h', 'x', ['le'], [1]), /^metric h: label name "le" is invalid: it is reserved/);
      registry.gauge('g', 'x', ['le']);
    });

    it('refuses a name registered twice, whatever the type, and names a histogram already uses', () => {
      const registry = new MetricsRegistry();
      registry.counter('a_total', 'x', []);
      throwsMessage(() => registry.counter('a_total', 'x', []), /^metric a_total is already registered$/);
      throwsMessage(() => registry.gauge('a_total', 'x', []), /^metric a_total is already registered$/);
      throwsMessage(() => registry.counter(COLLECT_ERRORS_METRIC, 'x', []), /already registered/);
      registry.histogram('h', 'x', [], [1]);
      throwsMessage(() => registry.gauge('h_count', 'x', []), /^metric h_count: the name h_count is already used by metric h$/);
      registry.gauge('g_sum', 'x', []);
      throwsMessage(() => registry.histogram('g', 'x', [], [1]), /^metric g: the name g_sum is already used by metric g_sum$/);
      // A failed registration claims nothing.
      registry.histogram('g2', 'x', [], [1]);
    });

    it('refuses an undeclared label and a missing one, naming metric and label', async () => {
      const registry = new MetricsRegistry();
      const labelNames: string[] = ['vm', 'vif'];
      const counter = registry.counter('vifd_c_total', 'x', labelNames);
      const gauge = registry.gauge('vifd_g', 'x', labelNames);
      const histogram = registry.histogram('vifd_h', 'x', labelNames, [1]);
      const bare = registry.counter('vifd_bare_total', 'x', []);
      throwsMessage(() => counter.inc({ vm: 'a', vif: '0', bridge: 'br0' }), /^metric vifd_c_total: label "bridge" is not declared \(declared: vm, vif\)$/);
      throwsMessage(() => counter.inc({ vm: 'a' }), /^metric vifd_c_total: label "vif" is missing$/);
      throwsMessage(() => counter.inc(), /^metric vifd_c_total: label "vm" is missing$/);
      throwsMessage(() => gauge.set({ vif: '0' }, 1), /^metric vifd_g: label "vm" is missing$/);
      throwsMessage(() => histogram.observe({ vm: 'a', vif: '0', le: '1' }, 1), /^metric vifd_h: label "le" is not declared/);
      throwsMessage(() => bare.inc({ vm: 'a' }), /^metric vifd_bare_total: label "vm" is not declared \(declared: none\)$/);
      assert.doesNotMatch(await registry.render(), /vifd_(c|g|h)\S*\{/);
    });
  });

  describe('collect hooks', () => {
    it('run before a render refreshes gauges; one that throws is counted and does not stop the others', async () => {
      const failures: unknown[] = [];
      const registry = new MetricsRegistry({ onCollectError: (error) => failures.push(error) });
      const gauge = registry.gauge('vifd_vif_tx_bytes', 'x', ['vif']);
      let scrapes = 0;
      registry.onCollect(() => { throw new Error('sync failure'); });
      registry.onCollect(async () => {
        await Promise.resolve();
        scrapes += 1;
        gauge.reset();
        gauge.set({ vif: 'vif1.0' }, scrapes * 100);
      });
      registry.onCollect(() => Promise.reject(new Error('async failure')));
      await registry.collect();
      await registry.collect();
      assert.match(await registry.render(), new RegExp(`^${COLLECT_ERRORS_METRIC} 4$`, 'm'));
      assert.match(await registry.render(), /^vifd_vif_tx_bytes\{vif="vif1\.0"\} 200$/m);
      assert.deepEqual(failures.map((error) => (error as Error).message), ['sync failure', 'async failure', 'sync failure', 'async failure']);
    });

    it('can be removed', async () => {
      const registry = new MetricsRegistry();
      let runs = 0;
      const remove = registry.onCollect(() => { runs += 1; });
      await registry.collect();
      remove();
      await registry.collect();
      assert.equal(runs, 1);
    });
  });
});

describe('api/metrics: HTTP server', () => {
  let server: MetricsServer | undefined;
  let registry: MetricsRegistry;

  beforeEach(async () => {
    registry = new MetricsRegistry();
    server = await startMetricsServer(registry, { host: '127.0.0.1', port: 0 });
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  function url(path: string): string {
    assert.ok(server !== undefined);
    return `http://${server.address.host}:${server.address.port}${path}`;
  }

  it('binds the asked host and reports the port it was given', () => {
    assert.ok(server !== undefined);
    assert.equal(server.address.host, '127.0.0.1');
    assert.ok(server.address.port > 0);
  });

  it('answers GET /metrics with the exposition and its content type', async () => {
    registry.counter('vifd_plugs_total', 'VIFs plugged.', []).inc();
    for (const path of ['/metrics', '/metrics?x=1']) {
      const response = await fetch(url(path));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), CONTENT_TYPE);
      assert.equal(await response.text(), await registry.render());
    }
    assert.match(await registry.render(), /^vifd_plugs_total 1$/m);
  });

  it('answers HEAD /metrics like GET, without a body', async () => {
    const response = await fetch(url('/metrics'), { method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), CONTENT_TYPE);
    assert.equal(await response.text(), '');
  });

  it('answers 404 for any other path', async () => {
    for (const path of ['/', '/metrics/', '/metricsx', '/favicon.ico']) {
      const response = await fetch(url(path));
      assert.equal(response.status, 404, path);
      await response.text();
    }
  });

  it('answers 405 for other methods on /metrics', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const response = await fetch(url('/metrics'), { method, body: method === 'DELETE' ? null : 'x' });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'GET, HEAD');
      await response.text();
    }
  });

  it('still answers 200 with the other metrics when a collect hook throws, and counts the failure', async () => {
    const rx = registry.gauge('vifd_vif_rx_bytes', 'x', ['vm']);
    registry.onCollect(() => { rx.set({ vm: 'web' }, 42); });
    registry.onCollect(() => { throw new Error('ovsdb is down'); });
    for (const expected of [1, 2]) {
      const response = await fetch(url('/metrics'));
      assert.equal(response.status, 200);
      const body = await response.text();
      assert.match(body, /^vifd_vif_rx_bytes\{vm="web"\} 42$/m);
      assert.match(body, new RegExp(`^${COLLECT_ERRORS_METRIC} ${expected}$`, 'm'));
    }
  });

  it('closes with a keep-alive connection open, and twice', async () => {
    const response = await fetch(url('/metrics'), { headers: { connection: 'keep-alive' } });
    await response.text();
    assert.ok(server !== undefined);
    const closing = server;
    server = undefined;
    await closing.close();
    await closing.close();
    await assert.rejects(fetch(`http://127.0.0.1:${closing.address.port}/metrics`));
  });

  it('rejects when the port is taken', async () => {
    assert.ok(server !== undefined);
    await assert.rejects(startMetricsServer(registry, { host: '127.0.0.1', port: server.address.port }), /EADDRINUSE/);
  });
});
