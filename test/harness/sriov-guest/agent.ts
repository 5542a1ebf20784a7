// Runs INSIDE the SR-IOV test guest (its /init starts it with the host's node
// over 9p): finds the virtio-serial port named vifd.agent, says hello, then
// answers one request per line with the guest operations (operations.ts) until
// asked to stop. Errors are reported with their class, code and errno so the
// host test asserts on vifd's typed errors as the real driver produced them.
import { closeSync, openSync, read, readFileSync, readdirSync, write } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VfNetlinkError } from '../../../src/host/sriov/errors.js';
import { BenchOperations } from './bench-operations.js';
import { DaemonOperations } from './daemon-operations.js';
import { GuestOperations } from './operations.js';
import { AGENT_PORT_NAME } from './protocol.js';
import type { AgentErrorReport, AgentHello, AgentRequest, AgentResponse } from './protocol.js';

const readAsync = promisify(read);
const writeAsync = promisify(write);
const PORTS = '/sys/class/virtio-ports';

function findPort(): string {
  for (const port of readdirSync(PORTS)) {
    if (readFileSync(join(PORTS, port, 'name'), 'utf8').trim() === AGENT_PORT_NAME) return join('/dev', port);
  }
  throw new Error(`no virtio-serial port named ${AGENT_PORT_NAME} in ${PORTS}`);
}

export function reportError(error: unknown): AgentErrorReport {
  if (!(error instanceof Error)) return { name: 'non-Error', message: String(error) };
  const fields = error as Error & { code?: unknown; errno?: unknown; location?: unknown };
  return {
    name: error.constructor.name,
    message: error.message,
    ...(typeof fields.code === 'string' ? { code: fields.code } : {}),
    ...(typeof fields.errno === 'number' ? { errno: fields.errno } : {}),
    ...(error instanceof VfNetlinkError ? { isUnsupported: error.isUnsupported } : {}),
    ...(fields.location === undefined ? {} : { location: fields.location }),
  };
}

class PortChannel {
  private buffered = '';

  constructor(private readonly fd: number) {}

  async send(message: AgentResponse): Promise<void> {
    const bytes = Buffer.from(`${JSON.stringify(message)}\n`);
    for (let at = 0; at < bytes.length;) at += (await writeAsync(this.fd, bytes, at, bytes.length - at)).bytesWritten;
  }

  /** The next line; a read of 0 bytes means the host side is not connected yet: wait and retry. */
  async nextLine(): Promise<string> {
    const chunk = Buffer.alloc(65_536);
    for (;;) {
      const newline = this.buffered.indexOf('\n');
      if (newline >= 0) {
        const line = this.buffered.slice(0, newline);
        this.buffered = this.buffered.slice(newline + 1);
        return line;
      }
      const { bytesRead } = await readAsync(this.fd, chunk, 0, chunk.length, null);
      if (bytesRead === 0) await new Promise((resolve) => setTimeout(resolve, 200));
      else this.buffered += chunk.subarray(0, bytesRead).toString('utf8');
    }
  }
}

async function serve(): Promise<void> {
  const fd = openSync(findPort(), 'r+');
  const channel = new PortChannel(fd);
  const operations = new GuestOperations();
  const daemon = new DaemonOperations();
  const bench = new BenchOperations(); // bench/sriov.bench.ts's cycles (bench-operations.ts)
  const hello: AgentHello = {
    node: process.version,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    uptimeSeconds: Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]),
  };
  await channel.send({ id: 0, ok: true, value: hello });
  for (;;) {
    const request = JSON.parse(await channel.nextLine()) as AgentRequest;
    if (request.op === 'stop') {
      await channel.send({ id: request.id, ok: true, value: null });
      break;
    }
    try {
      const value = daemon.has(request.op) ? await daemon.call(request.op, request.args)
        : bench.handles(request.op) ? await bench.call(request.op, request.args) : await operations.call(request.op, request.args);
      await channel.send({ id: request.id, ok: true, value: value ?? null });
    } catch (error) {
      await channel.send({ id: request.id, ok: false, error: reportError(error) });
    }
  }
  operations.close();
  daemon.close();
  bench.close();
  closeSync(fd);
}

serve().catch((error: unknown) => {
  console.log(`sriov-guest: agent failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
});
