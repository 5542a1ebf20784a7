// The engine's public shapes: what it is given (options, log, metrics) and what
// prepare answers. Kept apart so adapters import them without the engine.
import type { VmSource } from '../model/contracts.js';
import type { PlanSettings, VifPlanner } from '../model/plan.js';
import type { ExecutorTable, KindHosts, KindTable } from '../kinds/registry.js';

export interface EngineLog {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

export interface EngineMetrics {
  plugSeconds(seconds: number, outcome: 'ok' | 'refused' | 'failed'): void;
  reconcileErrors(count: number): void;
  orphansRemoved(count: number): void;
  macCollisions(count: number): void;
}

export const noMetrics: EngineMetrics = { plugSeconds: () => undefined, reconcileErrors: () => undefined, orphansRemoved: () => undefined, macCollisions: () => undefined };

export interface EngineOptions {
  readonly settings: PlanSettings;
  /** Where VMs come from (libvirt today). */
  readonly source: VmSource;
  /** The host effectors every VIF kind works through (not needed when `kinds` brings its own). */
  readonly host?: KindHosts;
  /**
   * The VIF kinds, their step executors and their planners; by default every
   * kind vifd has (src/kinds/registry.ts, VIF_PLANNERS), working on `host`.
   */
  readonly kinds?: { readonly kinds: KindTable; readonly executors: ExecutorTable; readonly planners: Readonly<Record<string, VifPlanner>> };
  readonly log: EngineLog;
  readonly metrics?: EngineMetrics;
  /** How long VIFs made at prepare are kept for a VM that has not started yet. */
  readonly preparedTtlMs?: number;
  /**
   * Resolves once the host view (the OVSDB replica) is loaded; until then
   * nothing can be planned or observed, so prepare and release wait for it.
   */
  readonly hostReady?: () => Promise<void>;
}

export interface PreparedVif {
  readonly index: number;
  readonly device: string;
  readonly mac: string;
  readonly bridge: string;
}

export interface PrepareVerdict {
  readonly domain: string;
  readonly uuid: string;
  readonly vifs: readonly PreparedVif[];
  readonly warnings: readonly string[];
}

export { PlugError } from '../model/errors.js';
