// vifd's metrics: a registry on prom-client (text exposition 0.0.4, Node's
// process and event-loop metrics) and its /metrics endpoint. The registry is
// a thin layer over prom-client that stays strict where prom-client is lax:
// every declared label must be given (prom-client accepts a partial set),
// names starting with __ are refused, a histogram's _bucket/_sum/_count names
// cannot be taken by another metric, and counters move only by finite
// non-negative amounts (prom-client would render inc(NaN) as a NaN counter).
//
// Misuse (a bad name, an undeclared label) throws a plain Error: it is a bug
// in vifd, found by the first test that touches the metric, never bad input.
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import { Counter as PromCounter, Gauge as PromGauge, Histogram as PromHistogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Label values by label name. Values often come from VMs (names), so they are escaped on output. */
export type Labels<L extends string = string> = Readonly<Record<L, string>>;
export type CollectHook = () => void | Promise<void>;

export interface Counter<L extends string = string> {
  readonly name: string;
  /** Adds `by` (finite, >= 0): counters only go up. */
  inc(labels?: Labels<L>, by?: number): void;
}

/**
 * A counter kept elsewhere (OVS interface statistics) and copied at each
 * scrape: reset, then set each series to the source's value. A source counter
 * that restarts (a port recreated) is a counter reset, which rate() handles.
 */
export interface MirroredCounter<L extends string = string> {
  readonly name: string;
  set(labels: Labels<L>, value: number): void;
  reset(): void;
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

/** The finite upper bounds, strictly increasing (+Inf, if given last, is prom-client's to add). */
function finiteBounds(metric: string, buckets: readonly number[]): number[] {
  const finite = buckets.at(-1) === Infinity ? buckets.slice(0, -1) : [...buckets];
  let previous = -Infinity;
  for (const bound of finite) {
    if (!Number.isFinite(bound) || bound <= previous) {
      throw new Error(`metric ${metric}: buckets must be finite and strictly increasing, got [${buckets.map(String).join(', ')}]`);
    }
    previous = bound;
  }
  return finite;
}

/** The labels exactly as declared: an extra or missing label is a bug in the caller. */
function checkedLabels<L extends string>(metric: string, declared: readonly L[], labels: Readonly<Record<string, string | undefined>> = {}): Record<L, string> {
  for (const name of Object.keys(labels)) {
    if (!(declared as readonly string[]).includes(name)) {
      throw new Error(`metric ${metric}: label "${name}" is not declared (declared: ${declared.length === 0 ? 'none' : declared.join(', ')})`);
    }
  }
  const checked = {} as Record<L, string>;
  for (const name of declared) {
    const value = labels[name];
    if (value === undefined) throw new Error(`metric ${metric}: label "${name}" is missing`);
    checked[name] = value;
  }
  return checked;
}

/**
 * prom-client keys a series by "name:value," joined, so with two or more
 * labels {a: 'x,b:y', b: 'z'} and {a: 'x', b: 'y,b:z'} would become one
 * series. Such a pair is refused here instead of being silently merged.
 */
class SeriesKeys {
  private readonly seen = new Map<string, string>();

  constructor(private readonly metric: string, private readonly labelNames: readonly string[]) {}

  check(labels: Readonly<Record<string, string>>): void {
    if (this.labelNames.length < 2) return;
    const promKey = this.labelNames.map((name) => `${name}:${labels[name] ?? ''},`).join('');
    const exact = JSON.stringify(this.labelNames.map((name) => labels[name]));
    const before = this.seen.get(promKey);
    if (before !== undefined && before !== exact) throw new Error(`metric ${this.metric}: label values ${exact} and ${before} would be one series`);
    this.seen.set(promKey, exact);
  }

  clear(): void {
    this.seen.clear();
  }
}

function checkCounterStep(metric: string, by: number): void {
  if (!Number.isFinite(by) || by < 0) throw new Error(`metric ${metric}: a counter only goes up, not by ${by}`);
}

export class MetricsRegistry {
  /** The prom-client registry: what is rendered, and where standard collectors register. */
  readonly registry = new Registry();
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
    const metric = new PromCounter<L>({ name, help, labelNames: [...labelNames], registers: [this.registry] });
    const keys = new SeriesKeys(name, labelNames);
    return {
      name,
      inc: (labels, by = 1) => {
        const checked = checkedLabels(name, labelNames, labels);
        checkCounterStep(name, by);
        keys.check(checked);
        metric.inc(checked, by);
      },
    };
  }

  mirroredCounter<L extends string = string>(name: string, help: string, labelNames: readonly L[]): MirroredCounter<L> {
    this.claim(name, labelNames, [], [name]);
    const metric = new PromCounter<L>({ name, help, labelNames: [...labelNames], registers: [this.registry] });
    const keys = new SeriesKeys(name, labelNames);
    return {
      name,
      set: (labels, value) => {
        const checked = checkedLabels(name, labelNames, labels);
        checkCounterStep(name, value);
        keys.check(checked);
        metric.remove(checked);
        metric.inc(checked, value);
      },
      reset: () => { metric.reset(); keys.clear(); },
    };
  }

  gauge<L extends string = string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    this.claim(name, labelNames, [], [name]);
    const metric = new PromGauge<L>({ name, help, labelNames: [...labelNames], registers: [this.registry] });
    const keys = new SeriesKeys(name, labelNames);
    const series = (labels: Labels<L> | undefined): Record<L, string> => {
      const checked = checkedLabels(name, labelNames, labels);
      keys.check(checked);
      return checked;
    };
    return {
      name,
      set: (labels, value) => { metric.set(series(labels), value); },
      inc: (labels, by = 1) => { metric.inc(series(labels), by); },
      dec: (labels, by = 1) => { metric.dec(series(labels), by); },
      reset: () => { metric.reset(); keys.clear(); },
    };
  }

  histogram<L extends string = string>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): Histogram<L> {
    checkMetricName(name);
    const bounds = finiteBounds(name, buckets);
    this.claim(name, labelNames, ['le'], [name, `${name}_bucket`, `${name}_sum`, `${name}_count`]);
    const metric = new PromHistogram<L>({ name, help, labelNames: [...labelNames], buckets: bounds, registers: [this.registry] });
    const keys = new SeriesKeys(name, labelNames);
    return {
      name,
      observe: (labels, value) => {
        const checked = checkedLabels(name, labelNames, labels);
        keys.check(checked);
        // NaN fits no bucket and would turn _sum into NaN for good.
        if (Number.isNaN(value)) throw new Error(`metric ${name}: cannot observe NaN`);
        metric.observe(checked, value);
      },
    };
  }

  /** Node's process and event-loop metrics (process_*, nodejs_*), as every prom-client exporter has them. */
  collectDefaultMetrics(): void {
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Runs `hook` before each scrape's render, alongside the other hooks. A hook
   * that awaits should do so first, then reset and set its metrics without
   * awaiting in between, so a concurrent scrape never sees them half-filled.
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
  render(): Promise<string> {
    return this.registry.metrics();
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
  send(response, 200, await registry.render(), { 'Content-Type': CONTENT_TYPE });
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
