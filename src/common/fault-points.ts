// Named points in vifd's work where a test can make the daemon die as a crash
// would (SIGKILL: no finally, no cleanup), to prove that every window between
// two steps ends, after a restart, in a clean state. Test-only: armed by the
// VIFD_TEST_FAULT_POINT environment variable, read once at start; unset (as
// in production) every point is a no-op comparison.

export const FAULT_POINTS = [
  /** A TAP exists (TUNSETIFF) but is not yet marked as vifd's nor persistent. */
  'tap-created',
  /** The TAP carries vifd's mark (ifalias) but is not yet persistent. */
  'tap-marked',
  /** The TAP is persistent and marked, its MAC/MTU/link not yet set. */
  'tap-persisted',
  /** Every TAP of a plug is ready; no port has been written yet. */
  'plug-taps-ready',
  /** ovs-vswitchd applied the plug's ports; the caller has no verdict yet. */
  'plug-ports-applied',
  /** An unplug (release, reconcile or GC) removed its ports; its TAPs are still there. */
  'unplug-ports-removed',
  /** An unplug deleted its first TAP; others may remain. */
  'unplug-first-tap-deleted',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

const armed = process.env.VIFD_TEST_FAULT_POINT;

export function faultPoint(point: FaultPoint): void {
  if (armed === point) process.kill(process.pid, 'SIGKILL');
}
