// Carries out reconcile steps through each step kind's executor, phase by
// phase: devices are made before their ports are written (ovs-vswitchd opens
// the device when the row lands), ports are removed before their devices are
// deleted. Steps within a phase run together, so the port writer batches them.
// Every step is repeat-safe, so a step that fails can be planned and run again.
import { faultPoint } from '../common/fault-points.js';
import { VifdError } from '../model/errors.js';
import type { StepExecutor, StepTally } from '../kinds/kind.js';
import type { ExecutorTable, Step } from '../kinds/registry.js';

export interface StepFailure {
  readonly step: Step;
  readonly error: Error;
}

export interface ExecutionResult {
  readonly failures: readonly StepFailure[];
  /** Devices created (not merely repaired) by this run. */
  readonly created: readonly string[];
  /** Switch ports removed. */
  readonly detached: number;
  /** Devices deleted. */
  readonly destroyed: number;
  /** Steps run (0: the host already matched). */
  readonly ran: number;
}

export const NOTHING_DONE: ExecutionResult = { failures: [], created: [], detached: 0, destroyed: 0, ran: 0 };

function withStepContext(executor: StepExecutor<Step>, step: Step, error: unknown): Error {
  if (error instanceof VifdError) return error.withContext(executor.context(step));
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Runs the steps; never throws for a failed step: failures are returned so
 * the caller decides (prepare rolls back, reconcile logs and retries later).
 */
export async function executeSteps(steps: readonly Step[], executors: ExecutorTable): Promise<ExecutionResult> {
  const executorOf = (step: Step): StepExecutor<Step> => {
    const executor = executors[step.kind];
    if (executor === undefined) throw new Error(`no executor for step ${JSON.stringify(step.kind)}`);
    return executor;
  };
  const tally: StepTally = { created: [], detached: 0, destroyed: 0 };
  const failures: StepFailure[] = [];
  const failedDevices = new Set<string>();
  for (const phase of [1, 2, 3] as const) {
    const runnable = steps.filter((step) => executorOf(step).phase === phase && !failedDevices.has(executorOf(step).device(step)));
    if (runnable.length === 0) continue;
    const failedNow: string[] = [];
    await Promise.all(runnable.map(async (step) => {
      const executor = executorOf(step);
      try {
        await executor.run(step, tally);
      } catch (error) {
        failures.push({ step, error: withStepContext(executor, step, error) });
        failedNow.push(executor.device(step));
      }
    }));
    for (const device of failedNow) failedDevices.add(device);
    for (const point of new Set(runnable.flatMap((step) => executorOf(step).afterPhase ?? []))) faultPoint(point);
  }
  return { failures, created: tally.created, detached: tally.detached, destroyed: tally.destroyed, ran: steps.length };
}
