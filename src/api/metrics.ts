// A small Prometheus metrics registry and its /metrics endpoint. vifd exposes
// a handful of counters, gauges and histograms; a client library would bring
// more code than that, so this implements just text exposition format 0.0.4.
//
// Misuse (a bad name, an undeclared label) throws a plain Error: it is a bug
// in vifd, found by the first test that touches the metric, never bad input.
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';

/** Label values by label name. Values often come from VMs (names), so they are escaped on output. */
export type Labels<L extends string = string> = Readonly<Record<L, string>>;
export type CollectHook = () => void | Promise<void>;

export interface Counter<L extends string = string> {
  readonly name: string;
  /** Adds `by` (finite, >= 0): counters only go up. */
  inc(labels?: Labels<L>, by?: number): void;
}

export interface Gauge<L extends string = string> {
  readonly name: string;
  set(labels: Labels<L>, value: number): void;
  inc(labels?: Labels<L>, by?: number): void;
  dec(labels?: Labels<L>, by?: number): void;
  /** Drops every label set, so a gauge rebuilt at each scrape forgets VIFs that are gone. */
  reset(): void;
}

export interface Histogram<L extends string = string> {
  readonly name: string;
  observe(labels: Labels<L>, value: number): void;
}

export interface MetricsRegistryOptions {
  /** Told about each failed collect hook, e.g. to log it; the failure is also counted. */
  readonly onCollectError?: (error: unknown) => void;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const COLLECT_ERRORS_METRIC = 'vifd_metrics_collect_errors_total';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Go's spelling of the special floats, which is what Prometheus parses. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

function braces(pairs: readonly string[]): string {
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/** One label set: its pairs rendered once, when first seen, and its state. */
interface Series<S> {
  readonly pairs: readonly string[];
  state: S;
}

interface Family {
  renderLines(): string[];
}

abstract class BaseFamily<L extends string, S> implements Family {
  private readonly series = new Map<string, Series<S>>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly labelNames: readonly L[],
    private readonly initial: () => S,
  ) {
    // An unlabeled metric exists from the start, so rate() and alerts see a 0, not a gap.
    if (labelNames.length === 0) this.seriesFor(undefined);
  }

  renderLines(): string[] {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const series of this.series.values()) lines.push(...this.sampleLines(series));
    return lines;
  }

  protected abstract sampleLines(series: Series<S>): string[];

  protected seriesFor(labels: Labels<L> | undefined): Series<S> {
    const values = this.labelValues(labels ?? {});
    const key = JSON.stringify(values);
    let series = this.series.get(key);
    if (series === undefined) {
      const pairs = this.labelNames.map((name, i) => `${name}="${escapeLabelValue(values[i] ?? '')}"`);
      series = { pairs, state: this.initial() };
      this.series.set(key, series);
    }
    return series;
  }

  protected clear(): void {
    this.series.clear();
  }

  /** The values in declared order; an extra or missing label is a bug in the caller. */
  private labelValues(labels: Readonly<Record<string, string | undefined>>): string[] {
    const declared: readonly string[] = this.labelNames;
    for (const name of Object.keys(labels)) {
      if (!declared.includes(name)) {
        const known = declared.length === 0 ? 'none' : declared.join(', ');
        throw new Error(`metric ${this.name}: label "${name}" is not declared (declared: ${known})`);
      }
    }
    return declared.map((name) => {
      const value = labels[name];
      if (value === undefined) throw new Error(`metric ${this.name}: label "${name}" is missing`);
      return value;
    });
  }
}

class CounterFamily<L extends string> extends BaseFamily<L, number> implements Counter<L> {
  constructor(name: string, help: string, labelNames: readonly L[]) {
    super(name, help, 'counter', labelNames, () => 0);
  }

  inc(labels?: Labels<L>, by = 1): void {
    if (!Number.isFinite(by) || by < 0) throw new Error(`metric ${this.name}: a counter only goes up, not by ${by}`);
    this.seriesFor(labels).state += by;
  }

  protected sampleLines(series: Series<number>): string[] {
    return [`${this.name}${braces(series.pairs)} ${formatNumber(series.state)}`];
  }
}

class GaugeFamily<L extends string> extends BaseFamily<L, number> implements Gauge<L> {
  constructor(name: string, help: string, labelNames: readonly L[]) {
    super(name, help, 'gauge', labelNames, () => 0);
  }

  set(labels: Labels<L>, value: number): void {
    this.seriesFor(labels).state = value;
  }

  inc(labels?: Labels<L>, by = 1): void {
    this.seriesFor(labels).state += by;
  }

  dec(labels?: Labels<L>, by = 1): void {
    this.seriesFor(labels).state -= by;
  }

  reset(): void {
    this.clear();
  }

  protected sampleLines(series: Series<number>): string[] {
    return [`${this.name}${braces(series.pairs)} ${formatNumber(series.state)}`];
  }
}

/** Bucket counts are kept cumulative, as exposed: an observation lands in every bucket it fits. */
interface HistogramState {
  readonly buckets: { readonly le: number; count: number }[];
  sum: number;
  count: number;
}

class HistogramFamily<L extends string> extends BaseFamily<L, HistogramState> implements Histogram<L> {
  /** `bounds` ends with +Inf. */
  constructor(name: string, help: string, labelNames: readonly L[], bounds: readonly number[]) {
    super(name, help, 'histogram', labelNames, () => ({ buckets: bounds.map((le) => ({ le, count: 0 })), sum: 0, count: 0 }));
  }

  observe(labels: Labels<L>, value: number): void {
    // NaN fits no bucket and would turn _sum into NaN for good.
    if (Number.isNaN(value)) throw new Error(`metric ${this.name}: cannot observe NaN`);
    const state = this.seriesFor(labels).state;
    for (const bucket of state.buckets) if (value <= bucket.le) bucket.count += 1;
    state.sum += value;
    state.count += 1;
  }

  protected sampleLines({ pairs, state }: Series<HistogramState>): string[] {
    const lines = state.buckets.map(
      ({ le, count }) => `${this.name}_bucket${braces([...pairs, `le="${formatNumber(le)}"`])} ${count}`,
    );
    lines.push(`${this.name}_sum${braces(pairs)} ${formatNumber(state.sum)}`);
    lines.push(`${this.name}_count${braces(pairs)} ${state.count}`);
    return lines;
  }
}

function checkMetricName(name: string): void {
  if (!METRIC_NAME.test(name)) throw new Error(`metric name ${JSON.stringify(name)} is invalid: it must match ${METRIC_NAME.source}`);
}

function checkLabelNames(metric: string, labelNames: readonly string[], reserved: readonly string[]): void {
  const seen = new Set<string>();
  for (const label of labelNames) {
    const problem = !LABEL_NAME.test(label) ? `must match ${LABEL_NAME.source}`
      : label.startsWith('__') ? 'names starting with __ are reserved to Prometheus'
        : reserved.includes(label) ? 'it is reserved for this metric type'
          : seen.has(label) ? 'it is declared twice' : undefined;
    if (problem !== undefined) throw new Error(`metric ${metric}: label name ${JSON.stringify(label)} is invalid: ${problem}`);
    seen.add(label);
  }
}

/** The upper bounds, strictly increasing and finite, then +Inf (added if the caller left it out). */
function upperBounds(metric: string, buckets: readonly number[]): number[] {
  const finite = buckets.at(-1) === Infinity ? buckets.slice(0, -1) : buckets;
  let previous = -Infinity;
  for (const bound of finite) {
    if (!Number.isFinite(bound) || bound <= previous) {
      throw new Error(`metric ${metric}: buckets must be finite and strictly increasing, got [${buckets.map(formatNumber).join(', ')}]`);
    }
    previous = bound;
  }
  return [...finite, Infinity];
}

export class MetricsRegistry {
  private readonly families: Family[] = [];
  /** Every name the exposition uses (a histogram's _bucket/_sum/_count too) -> the metric using it. */
  private readonly taken = new Map<string, string>();
  private readonly hooks = new Set<{ readonly run: CollectHook }>();
  private readonly onCollectError: ((error: unknown) => void) | undefined;
  private readonly collectErrors: Counter;

  constructor(options: MetricsRegistryOptions = {}) {
    this.onCollectError = options.onCollectError;
    this.collectErrors = this.counter(
      COLLECT_ERRORS_METRIC, 'Collect hooks that failed during a scrape; the scrape still returned the other metrics.', [],
    );
  }

  counter<L extends string = string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    this.claim(name, labelNames, [], [name]);
    return this.add(new CounterFamily(name, help, [...labelNames]));
  }

  gauge<L extends string = string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    this.claim(name, labelNames, [], [name]);
    return this.add(new GaugeFamily(name, help, [...labelNames]));
  }

  histogram<L extends string = string>(
    name: string, help: string, labelNames: readonly L[], buckets: readonly number[],
  ): Histogram<L> {
    checkMetricName(name);
    const bounds = upperBounds(name, buckets);
    this.claim(name, labelNames, ['le'], [name, `${name}_bucket`, `${name}_sum`, `${name}_count`]);
    return this.add(new HistogramFamily(name, help, [...labelNames], bounds));
  }

  /**
   * Runs `hook` before each scrape's render, alongside the other hooks. A hook
   * that awaits should do so first, then reset and set its gauges without
   * awaiting in between, so a concurrent scrape never sees a half-filled gauge.
   * Returns a function that removes the hook.
   */
  onCollect(hook: CollectHook): () => void {
    const entry = { run: hook };
    this.hooks.add(entry);
    return () => this.hooks.delete(entry);
  }

  /** Runs every collect hook; one failing neither stops the others nor fails the scrape. */
  async collect(): Promise<void> {
    const results = await Promise.allSettled([...this.hooks].map(async (entry) => {
      await entry.run();
    }));
    for (const result of results) {
      if (result.status === 'rejected') {
        this.collectErrors.inc();
        this.onCollectError?.(result.reason);
      }
    }
  }

  /** The text exposition, in registration order and, within a metric, in label-set insertion order. */
  render(): string {
    return this.families.flatMap((family) => family.renderLines()).map((line) => `${line}\n`).join('');
  }

  private claim(name: string, labelNames: readonly string[], reserved: readonly string[], names: readonly string[]): void {
    checkMetricName(name);
    checkLabelNames(name, labelNames, reserved);
    for (const used of names) {
      const owner = this.taken.get(used);
      if (owner === name) throw new Error(`metric ${name} is already registered`);
      if (owner !== undefined) throw new Error(`metric ${name}: the name ${used} is already used by metric ${owner}`);
    }
    for (const used of names) this.taken.set(used, name);
  }

  private add<F extends Family>(family: F): F {
    this.families.push(family);
    return family;
  }
}

export interface MetricsServerOptions {
  readonly host: string;
  /** 0 picks a free port; `address.port` tells which. */
  readonly port: number;
  /**
   * Told about failures after startup (a scrape that could not be answered, a
   * failed accept). Defaults to a process warning: the daemon must not die of them.
   */
  readonly onError?: (error: Error) => void;
}

export interface MetricsServer {
  readonly address: { readonly host: string; readonly port: number };
  /** Stops listening and drops open connections, keep-alive ones included. Safe to call twice. */
  close(): Promise<void>;
}

function send(response: ServerResponse, status: number, body: string, headers: OutgoingHttpHeaders = {}): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers,
  });
  response.end(body); // Node leaves the body out for HEAD
}

async function respond(registry: MetricsRegistry, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '').split('?', 1)[0];
  if (path !== '/metrics') {
    send(response, 404, 'not found: metrics are at /metrics\n');
    return;
  }
  // HEAD is GET without a body; HTTP servers are expected to answer both.
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  await registry.collect();
  send(response, 200, registry.render(), { 'Content-Type': CONTENT_TYPE });
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Serves `GET /metrics`, running the registry's collect hooks before each render. */
export async function startMetricsServer(registry: MetricsRegistry, options: MetricsServerOptions): Promise<MetricsServer> {
  const onError = options.onError ?? ((error: Error) => { process.emitWarning(error); });
  const server = createServer((request, response) => {
    respond(registry, request, response).catch((error: unknown) => {
      onError(error instanceof Error ? error : new Error(String(error)));
      if (response.headersSent) response.destroy();
      else send(response, 500, 'internal error\n');
    });
  });
  await listen(server, options.host, options.port);
  server.on('error', onError);
  const bound = server.address();
  if (bound === null || typeof bound === 'string') {
    server.close(); // a TCP listen always has an address; do not leak the socket if it somehow has not
    throw new Error(`metrics server: unexpected address ${String(bound)}`);
  }
  let closing: Promise<void> | undefined;
  return {
    address: { host: bound.address, port: bound.port },
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => { if (error === undefined) resolve(); else reject(error); });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
