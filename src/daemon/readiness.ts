// Whether the daemon has reached the switch yet. The control socket serves
// from the first moment; requests that need the switch wait (bounded by their
// caller) until the OVSDB replica is loaded. (libvirtd's side needs no flag:
// the daemon holds its connection or null, and the libvirt source refuses
// with a clear error until it has one.)
export class Readiness {
  private switchUp = false;
  private readonly switchWaiters: (() => void)[] = [];

  get switchIsReady(): boolean {
    return this.switchUp;
  }

  markSwitch(): void {
    this.switchUp = true;
    for (const wake of this.switchWaiters.splice(0)) wake();
  }

  /** Resolves once ovsdb-server's rows are loaded (at once when they are). */
  switchReady(): Promise<void> {
    if (this.switchUp) return Promise.resolve();
    return new Promise((resolve) => { this.switchWaiters.push(resolve); });
  }
}
