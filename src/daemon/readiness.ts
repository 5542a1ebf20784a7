// What the daemon has reached so far. The control socket serves from the first
// moment; requests that need the switch wait (bounded by their caller) until
// the OVSDB replica is loaded, and requests that need libvirtd fail at once
// with a clear error until it has been reached.
export class Readiness {
  private switchUp = false;
  private libvirtUp = false;
  private readonly switchWaiters: (() => void)[] = [];

  get switchIsReady(): boolean {
    return this.switchUp;
  }

  get libvirtIsReady(): boolean {
    return this.libvirtUp;
  }

  markSwitch(): void {
    this.switchUp = true;
    for (const wake of this.switchWaiters.splice(0)) wake();
  }

  markLibvirt(): void {
    this.libvirtUp = true;
  }

  /** Resolves once ovsdb-server's rows are loaded (at once when they are). */
  switchReady(): Promise<void> {
    if (this.switchUp) return Promise.resolve();
    return new Promise((resolve) => { this.switchWaiters.push(resolve); });
  }
}
