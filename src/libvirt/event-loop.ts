// libvirt's default event loop (virEventRunDefaultImpl) driven on a worker
// thread through koffi's async calls, one iteration at a time, while any
// connection needs it. libvirt callbacks fired from that thread are run by
// koffi on Node's main thread, so event handlers never race with other JS.
// Releasing the last user wakes the loop with a zero timeout so the process
// can exit instead of waiting in poll().
import { ErrorFunc, TimeoutCallback, api, register } from './ffi.js';

let registered = false;
let users = 0;
let running: Promise<void> | null = null;
let wakeCallback: bigint | null = null;
let errorFuncCallback: bigint | null = null;

function registerOnce(): void {
  if (registered) return;
  // libvirt prints every error to stderr unless an error function is set; vifd
  // reads errors itself (virConnCopyLastError) and reports them typed.
  errorFuncCallback = register(() => undefined, ErrorFunc);
  api.setErrorFunc(null, errorFuncCallback);
  if (api.eventRegisterDefaultImpl() < 0) throw new Error('virEventRegisterDefaultImpl failed');
  registered = true;
}

/** One iteration of libvirt's loop on the worker thread; calls back with its return value (-1: failed). */
export type RunOnce = (callback: (error: unknown, result: number) => void) => void;

/** How long to wait after `consecutive` failed iterations in a row: 10 ms doubling, at most 1 s. */
export const failureBackoffMs = (consecutive: number): number => Math.min(1000, 10 * 2 ** Math.min(consecutive - 1, 7));

/**
 * Runs iterations while `wanted()`. An iteration that fails (virEventRunDefaultImpl
 * returns -1 at once, e.g. poll() failing) is followed by a growing pause
 * instead of the next iteration at once, which would spin the worker thread
 * and flood the main thread with callbacks; a good iteration resets it.
 */
export function driveEventLoop(runOnce: RunOnce, wanted: () => boolean,
  wait: (ms: number, then: () => void) => void = (ms, then) => { setTimeout(then, ms); }): Promise<void> {
  let failures = 0;
  return new Promise<void>((resolve) => {
    const next = (): void => {
      runOnce((error, result) => {
        if (!wanted()) { resolve(); return; }
        if ((error !== null && error !== undefined) || result < 0) {
          failures++;
          wait(failureBackoffMs(failures), next);
          return;
        }
        failures = 0;
        next();
      });
    };
    next();
  });
}

/** Must be called before a connection is opened; pairs with releaseEventLoop. */
export function acquireEventLoop(): void {
  registerOnce();
  users++;
  running ??= driveEventLoop((callback) => { api.eventRunDefaultImpl.async(callback); }, () => users > 0).then(() => { running = null; });
}

export async function releaseEventLoop(): Promise<void> {
  users = Math.max(0, users - 1);
  if (users > 0 || running === null) return;
  wakeCallback ??= register((timer: number) => { api.eventRemoveTimeout(timer); }, TimeoutCallback);
  api.eventAddTimeout(0, wakeCallback, null, null);
  await running;
}

export const eventLoopUsers = (): number => users;
