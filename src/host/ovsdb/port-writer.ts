// Coalesces concurrent port requests into few OVSDB transactions (group
// commit: while one transaction is in flight the next batch gathers), and
// resolves each caller only when ovs-vswitchd has applied its row. A failing
// batch is retried row by row, so one bad row fails only its own caller. A
// batch cut off by a disconnect is planned again after the resync: planning is
// idempotent against the fresh replica, so nothing is lost or done twice.
import { HostOperationError } from '../errors.js';
import { optionalInteger, optionalString } from './datum.js';
import type { OvsdbClient } from './client.js';
import { OvsdbDisconnectedError, OvsdbTransactionError } from './errors.js';
import type { Operation } from './operations.js';
import { planEnsurePort, planRemovePort } from './ports.js';
import type { VifPortSpec } from './ports.js';

/** ovs-vswitchd accepted the row but could not use the device (its Interface.error). */
export class InterfaceError extends HostOperationError {}

export interface PortApplied {
  readonly name: string;
  /** The OpenFlow port number ovs-vswitchd gave the interface. */
  readonly ofport: number | null;
}

interface Request {
  readonly name: string;
  readonly spec: VifPortSpec | null; // null: remove
  readonly waiters: { resolve: (value: PortApplied) => void; reject: (error: Error) => void }[];
}

export interface PortWriterOptions {
  /** How long a first request waits for others to join its batch. */
  readonly windowMs?: number;
  readonly maxBatch?: number;
  /** Bound on waiting for ovs-vswitchd or for a reconnect. */
  readonly timeoutMs?: number;
}

export class PortWriter {
  private queue = new Map<string, Request>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly windowMs: number;
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  /** Transactions committed, for tests and metrics. */
  transactions = 0;

  constructor(private readonly client: OvsdbClient, options: PortWriterOptions = {}) {
    this.windowMs = options.windowMs ?? 2;
    this.maxBatch = options.maxBatch ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  ensure(spec: VifPortSpec): Promise<PortApplied> {
    return this.enqueue(spec.name, spec);
  }

  async remove(name: string): Promise<void> {
    await this.enqueue(name, null);
  }

  private enqueue(name: string, spec: VifPortSpec | null): Promise<PortApplied> {
    return new Promise((resolve, reject) => {
      const earlier = this.queue.get(name);
      // The latest request for a port wins; everyone who asked learns the outcome.
      this.queue.set(name, { name, spec, waiters: [...(earlier?.waiters ?? []), { resolve, reject }] });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.timer !== null || this.queue.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.drain();
    }, this.windowMs);
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.size > 0) {
        const batch = [...this.queue.values()].slice(0, this.maxBatch);
        for (const request of batch) this.queue.delete(request.name);
        await this.runBatch(batch);
      }
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private async runBatch(batch: Request[], isRetry = false): Promise<void> {
    const planned: { request: Request; operations: Operation[] }[] = [];
    for (const request of batch) {
      try {
        const operations = request.spec === null ? planRemovePort(request.name, this.client.replica) : planEnsurePort(request.spec, this.client.replica);
        planned.push({ request, operations });
      } catch (error) {
        settle(request, error as Error); // bad input or not ours: only this caller fails
      }
    }
    if (planned.length === 0) return;
    try {
      await this.commit(planned.flatMap((entry) => entry.operations));
    } catch (error) {
      if (error instanceof OvsdbDisconnectedError && !isRetry) {
        await this.client.waitUntil(() => this.client.connected, this.timeoutMs, 'OVSDB to reconnect').catch(() => undefined);
        await this.runBatch(planned.map((entry) => entry.request), true);
      } else if (error instanceof OvsdbTransactionError && planned.length > 1 && !isRetry) {
        for (const entry of planned) await this.runBatch([entry.request], true);
      } else {
        for (const entry of planned) settle(entry.request, error as Error);
      }
      return;
    }
    for (const entry of planned) settle(entry.request, null, this.applied(entry.request));
  }

  /** One transaction that ovs-vswitchd must apply; nothing to send still waits for earlier changes. */
  private async commit(operations: Operation[]): Promise<void> {
    if (operations.length === 0) {
      await this.client.waitUntil(() => this.client.vswitchdCfg() >= this.nextCfg(), this.timeoutMs, 'ovs-vswitchd to catch up');
      return;
    }
    this.transactions++;
    await this.client.commit(operations, { waitForVswitchd: true, timeoutMs: this.timeoutMs });
  }

  private nextCfg(): number {
    const [row] = this.client.replica.rows('Open_vSwitch').values();
    return optionalInteger(row?.next_cfg) ?? 0;
  }

  private applied(request: Request): PortApplied | Error {
    if (request.spec === null) return { name: request.name, ofport: null };
    const iface = this.client.replica.byName('Interface', request.name)?.row;
    const error = optionalString(iface?.error);
    if (error !== null) return new InterfaceError(`interface ${request.name}: ovs-vswitchd reports: ${error}`);
    return { name: request.name, ofport: optionalInteger(iface?.ofport) };
  }
}

function settle(request: Request, error: Error | null, outcome?: PortApplied | Error): void {
  const failure = error ?? (outcome instanceof Error ? outcome : null);
  for (const waiter of request.waiters) {
    if (failure !== null) waiter.reject(failure);
    else if (outcome !== undefined && !(outcome instanceof Error)) waiter.resolve(outcome);
  }
}
