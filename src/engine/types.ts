// The engine's public shapes: what it is given (options, log, metrics) and what
// prepare answers. Kept apart so adapters import them without the engine.
import { VifdError } from '../model/errors.js';
import type { PlanSettings } from '../model/plan.js';
import type { DomainControl, DomainSource } from './domain-source.js';
import type { HostEffectors } from './executor.js';
import type { Replug } from './replug.js';

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
  readonly domains: DomainSource;
  readonly host: HostEffectors;
  readonly log: EngineLog;
  readonly metrics?: EngineMetrics;
  /** How long VIFs made at prepare are kept for a domain that has not started yet. */
  readonly preparedTtlMs?: number;
  /** To drop intent entries of interfaces another tool detached (without it they are only forgotten). */
  readonly control?: DomainControl;
  /** Re-plugs NICs whose TAP was recreated under a running VM (replug.ts); without it they stay detached from QEMU. */
  readonly replug?: Replug;
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

/** A prepare or reconcile left VIFs it could not fix; carries the per-step errors. */
export class PlugError extends VifdError {
  readonly code = 'plug-failed';
}
