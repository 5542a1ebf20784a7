// A real vifd daemon for e2e tests: this checkout's build or the installed
// package (programs.ts), run as a child process on the default control socket,
// because that is the socket the installed libvirt hook talks to. A vifd already running on
// the host (make lab) would share that socket, so the harness refuses to start
// beside one instead of fighting over the host's VIFs.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { callControl } from '../../src/api/control-client.js';
import type { Lab } from './lab.js';
import { vifdCommand } from './programs.js';

export const HOOK_PATH = '/etc/libvirt/hooks/qemu.d/vifd';
export const DAEMON_SOCKET = '/run/vifd/vifd.sock';

export interface NetworkSpec {
  readonly bridge: string;
  readonly vlan?: number;
  readonly trunks?: string;
  readonly mtu?: number;
}

export interface DaemonConfig {
  readonly networks: Readonly<Record<string, NetworkSpec>>;
  readonly vifLimit?: { readonly default: number; readonly max: number };
  /** Written as given (default: the config's own, kvm). */
  readonly hypervisor?: 'kvm' | 'xen';
  /** `libvirt:` as the config file spells it, e.g. { enabled: false } on an XAPI host. */
  readonly libvirt?: { readonly uri?: string; readonly enabled?: boolean };
  /** `xapi:` as the config file spells it (transport, host_uuid, vif_limit...). */
  readonly xapi?: Readonly<Record<string, unknown>>;
}

/** Where a daemon runs when not on this host: another host's namespaces (see second-host.ts). */
export interface DaemonHost {
  readonly name: string;
  readonly socketPath: string;
  readonly wrap: (argv: string[]) => string[];
}

async function answers(socketPath: string): Promise<boolean> {
  try {
    await callControl(socketPath, 'ping', {}, { connectTimeoutMs: 0, timeoutMs: 2000 });
    return true;
  } catch {
    return false; // any failure to answer means no daemon owns the socket
  }
}

export class DaemonProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<number | string | null> = Promise.resolve(null);
  /** Where the output of the latest launch starts. */
  private launchedAt = 0;
  private output = '';

  private constructor(
    readonly configPath: string,
    readonly logPath: string,
    readonly metricsUrl: string,
    /** The control socket as this process sees it (another host's lives in its private /run/vifd). */
    readonly socketPath: string,
    private readonly wrap: (argv: string[]) => string[],
  ) {}

  /** Writes the config, starts vifd and waits until it answers on its socket. */
  static async start(lab: Lab, config: DaemonConfig, on?: DaemonHost): Promise<DaemonProcess> {
    const socketPath = on?.socketPath ?? DAEMON_SOCKET;
    if (await answers(socketPath)) throw new Error(`a vifd already answers on ${socketPath} (make lab-down?); the e2e tests need the host's socket`);
    const configPath = lab.scratchPath(on === undefined ? 'vifd.yaml' : `vifd-${on.name}.yaml`);
    const metricsPort = 20000 + Math.floor(Math.random() * 20000);
    writeFileSync(configPath, JSON.stringify({
      control_socket: DAEMON_SOCKET, metrics: { listen: `127.0.0.1:${metricsPort}` }, log: { level: 'debug' },
      ...(config.vifLimit === undefined ? {} : { vif_limit: config.vifLimit }),
      ...(config.hypervisor === undefined ? {} : { hypervisor: config.hypervisor }),
      ...(config.libvirt === undefined ? {} : { libvirt: config.libvirt }),
      ...(config.xapi === undefined ? {} : { xapi: config.xapi }),
      networks: Object.fromEntries(Object.entries(config.networks).map(([name, network]) => [name, {
        bridge: network.bridge, ...(network.vlan === undefined ? {} : { vlan: network.vlan }),
        ...(network.trunks === undefined ? {} : { trunks: network.trunks }), ...(network.mtu === undefined ? {} : { mtu: network.mtu }),
      }])),
    }, null, 2));
    const daemon = new DaemonProcess(configPath, lab.scratchPath(on === undefined ? 'vifd.log' : `vifd-${on.name}.log`),
      `http://127.0.0.1:${metricsPort}/metrics`, socketPath, on?.wrap ?? ((argv) => argv));
    lab.defer('vifd daemon', () => daemon.stop());
    await daemon.launch();
    return daemon;
  }

  /**
   * Starts (again) with the same config and waits until the control socket
   * answers. `env` adds variables (a test-only fault point); `untilServing:
   * false` returns at once, for a daemon armed to die before it answers.
   */
  async launch(options: { env?: Readonly<Record<string, string>>; untilServing?: boolean } = {}): Promise<void> {
    const [command = '', ...args] = this.wrap([...vifdCommand(), '--config', this.configPath]);
    this.launchedAt = this.output.length;
    // VIFD_TEST_FAULT_POINT is never inherited: only a launch that asks for one is armed.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'VIFD_TEST_FAULT_POINT'));
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...inherited, ...options.env } });
    this.child = child;
    const collect = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
      writeFileSync(this.logPath, this.output);
      // For a failing run: the lab's scratch dir (and this log) goes at cleanup.
      if (process.env.VIFD_TEST_DAEMON_LOG !== undefined) writeFileSync(process.env.VIFD_TEST_DAEMON_LOG, this.output);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    this.exited = new Promise((resolve) => { child.once('exit', (code, signal) => { resolve(code ?? (signal === null ? null : `signal ${signal}`)); }); });
    if (options.untilServing === false) return;
    const deadline = Date.now() + 30_000;
    while (!(await answers(this.socketPath))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`vifd exited with ${String(child.exitCode ?? child.signalCode)} before answering:\n${this.output}`);
      }
      if (Date.now() > deadline) throw new Error(`vifd did not answer on ${this.socketPath} within 30 s:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  get log(): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : this.output;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Waits until the daemon's log has a line matching `pattern`. */
  async waitForLog(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.output)) {
      if (Date.now() > deadline) throw new Error(`no vifd log line matching ${String(pattern)} within ${timeoutMs} ms:\n${this.output.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Waits until the latest launch has reached both services and finished its first full reconcile. */
  async started(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!/vifd started/.test(this.output.slice(this.launchedAt))) {
      if (Date.now() > deadline) throw new Error(`vifd did not finish starting within ${timeoutMs} ms:\n${this.output.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Resolves with how the process ended (an exit code or "signal SIGKILL"), failing after `timeoutMs`. */
  async exit(timeoutMs = 30_000): Promise<number | string | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`vifd did not exit within ${timeoutMs} ms:\n${this.output.slice(-3000)}`)); }, timeoutMs);
    });
    try {
      const how = await Promise.race([this.exited, timeout]);
      this.child = null;
      return how;
    } finally {
      clearTimeout(timer);
    }
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    return callControl(this.socketPath, method, params, { connectTimeoutMs: 5000, timeoutMs: 60_000 });
  }

  /** SIGKILL: no clean-up of any kind, as after a crash. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
    this.child = null;
  }

  /** SIGTERM, then SIGKILL if it does not exit within 15 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await this.exited;
    clearTimeout(timer);
    this.child = null;
    if (code !== 0) throw new Error(`vifd exited with ${String(code)} on SIGTERM:\n${this.output.slice(-3000)}`);
  }
}
