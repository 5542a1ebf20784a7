// Reconnect pacing shared by the OVSDB client, the libvirt connection and the
// daemon's start-up: doubling from the first delay up to a cap, back to the
// first delay after a success. Pure: callers own their timers.
export class Backoff {
  private current: number;

  constructor(private readonly initialMs: number, private readonly maxMs: number) {
    this.current = initialMs;
  }

  /** The delay to wait now; the one after doubles, up to the cap. */
  next(): number {
    const delay = this.current;
    this.current = Math.min(delay * 2, this.maxMs);
    return delay;
  }

  reset(): void {
    this.current = this.initialMs;
  }
}
