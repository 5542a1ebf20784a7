// One TCG guest with an emulated igb NIC (SR-IOV) under the private QEMU, the
// host's /usr and this checkout shared read-only over 9p, and the agent
// (agent.ts) reachable on a virtio-serial port: call() runs one guest
// operation and resolves with its value or rejects with an AgentError.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKOUT } from './images.js';
import type { IgbGuestImages } from './images.js';
import { AGENT_PORT_NAME } from './protocol.js';
import type { AgentErrorReport, AgentHello, AgentResponse } from './protocol.js';

/** A guest operation failed; `report` carries the guest-side error's class, code and errno. */
export class AgentError extends Error {
  constructor(readonly op: string, readonly report: AgentErrorReport) {
    super(`guest ${op}: ${report.name}: ${report.message}`);
    this.name = 'AgentError';
  }
}

export interface IgbGuestOptions {
  /** How long boot + node start may take (TCG on a loaded 2-core host is slow). */
  readonly bootTimeoutMs?: number;
  readonly memoryMiB?: number;
}

/** The QEMU argv: q35 + an emulated IOMMU (vfio-pci needs one), igb behind a PCIe root port (room for its VFs). */
export function qemuArgv(images: IgbGuestImages, dir: string, memoryMiB: number): string[] {
  const share = (path: string, tag: string): string[] => ['-virtfs', `local,path=${path},mount_tag=${tag},security_model=none,readonly=on`];
  return [
    join(images.qemuRoot, 'usr/bin/qemu-system-x86_64'),
    '-L', join(images.qemuRoot, 'usr/share/qemu'), '-L', join(images.qemuRoot, 'usr/share/seabios'),
    '-machine', 'q35,accel=tcg', '-m', String(memoryMiB), '-smp', '1',
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-device', 'intel-iommu',
    '-kernel', images.kernel, '-initrd', images.initrd,
    '-append', 'console=ttyS0 intel_iommu=on iommu=pt panic=-1 quiet',
    '-serial', `file:${join(dir, 'serial.log')}`,
    '-device', 'pcie-root-port,id=rp0,chassis=1',
    '-netdev', 'user,id=uplink,restrict=on', '-device', 'igb,bus=rp0,netdev=uplink,romfile=',
    ...share('/usr', 'usr'), ...share(CHECKOUT, 'vifd'),
    '-device', 'virtio-serial-pci',
    '-chardev', `socket,id=agent,path=${join(dir, 'agent.sock')},server=on,wait=off`,
    '-device', `virtserialport,chardev=agent,name=${AGENT_PORT_NAME}`,
  ];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** A deadline for a race: unref'd, so a race already won does not keep the test process alive. */
const deadline = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class IgbGuest {
  private socket: Socket | undefined;
  private buffered = '';
  private readonly waiting = new Map<number, (response: AgentResponse) => void>();
  private nextId = 1;
  private stderr = '';
  private exited = false;
  hello: AgentHello | undefined;

  private constructor(private readonly qemu: ChildProcess, readonly dir: string) {
    qemu.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    qemu.on('exit', () => {
      this.exited = true;
      for (const [id, settle] of this.waiting) settle({ id, ok: false, error: { name: 'GuestGone', message: `QEMU exited${this.diagnostics()}` } });
      this.waiting.clear();
    });
  }

  static async boot(images: IgbGuestImages, options: IgbGuestOptions = {}): Promise<IgbGuest> {
    const dir = await mkdtemp(join(tmpdir(), 'vifd-igb-guest-'));
    const [command, ...args] = qemuArgv(images, dir, options.memoryMiB ?? 512);
    // The private QEMU also finds the system QEMU's modules and warns about each; it needs none of them.
    const qemu = spawn(command ?? '', args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, QEMU_MODULE_DIR: join(images.qemuRoot, 'usr/lib/x86_64-linux-gnu/qemu') },
    });
    const guest = new IgbGuest(qemu, dir);
    try {
      await guest.connect(options.bootTimeoutMs ?? 240_000);
    } catch (error) {
      await guest.stop();
      throw error;
    }
    return guest;
  }

  /** The serial console so far (kernel + init + agent messages). */
  serialLog(): string {
    const path = join(this.dir, 'serial.log');
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  private diagnostics(): string {
    const stderr = this.stderr.split('\n').filter((line) => line !== '' && !/failed to initialize module|Only modules from the same build/.test(line));
    return `\n--- QEMU stderr ---\n${stderr.slice(-20).join('\n')}\n--- serial (tail) ---\n${this.serialLog().split('\n').slice(-40).join('\n')}`;
  }

  private async connect(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    const path = join(this.dir, 'agent.sock');
    while (!existsSync(path)) {
      if (this.exited || Date.now() > until) throw new Error(`QEMU did not create ${path}${this.diagnostics()}`);
      await sleep(100);
    }
    const socket = createConnection(path);
    this.socket = socket;
    socket.setEncoding('utf8').on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', () => undefined); // QEMU exiting closes it; pending calls settle on 'exit'
    const hello = new Promise<AgentResponse>((resolve) => this.waiting.set(0, resolve));
    const timer = deadline(Math.max(0, until - Date.now())).then((): AgentResponse => ({ id: 0, ok: false, error: { name: 'Timeout', message: 'no hello' } }));
    const first = await Promise.race([hello, timer]);
    if (!first.ok) throw new Error(`the SR-IOV guest's agent did not start within ${timeoutMs} ms: ${first.error.message}${this.diagnostics()}`);
    this.hello = first.value as AgentHello;
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    for (let newline = this.buffered.indexOf('\n'); newline >= 0; newline = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      const response = JSON.parse(line) as AgentResponse;
      this.waiting.get(response.id)?.(response);
      this.waiting.delete(response.id);
    }
  }

  /** Runs a guest operation (operations.ts); rejects with AgentError when it throws in the guest. */
  async call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.socket === undefined || this.exited) throw new Error(`guest ${op}: the guest is not running${this.diagnostics()}`);
    const id = this.nextId++;
    const response = new Promise<AgentResponse>((resolve) => this.waiting.set(id, resolve));
    this.socket.write(`${JSON.stringify({ id, op, args })}\n`);
    const answer = await response;
    if (!answer.ok) throw new AgentError(op, answer.error);
    return answer.value as T;
  }

  /** Stops the agent (the guest powers off), kills QEMU if it lingers, removes the temp folder. */
  async stop(): Promise<void> {
    if (!this.exited && this.socket !== undefined && this.hello !== undefined) {
      await Promise.race([this.call('stop').catch(() => undefined), deadline(5_000)]);
    }
    const exit = new Promise<void>((resolve) => (this.exited ? resolve() : this.qemu.once('exit', () => resolve())));
    if (!(await Promise.race([exit.then(() => true), deadline(20_000).then(() => false)]))) {
      this.qemu.kill('SIGKILL');
      await exit;
    }
    this.socket?.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}
