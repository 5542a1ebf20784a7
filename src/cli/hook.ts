#!/usr/bin/env node
// The libvirt hook program (hooks/qemu.d/vifd runs it for the operations vifd
// cares about when the daemon's hook sockets cannot be used):
// `hook.js qemu DOMAIN OP SUBOP EXTRA` with the domain XML on stdin. It never calls libvirt (libvirtd is waiting on us and would
// deadlock); it hands the XML to the daemon and waits, with bounds, for the
// verdict. A refusal exits 1 with one line on stderr, which libvirt shows the
// user. With no daemon, a VM that asks for vifd VIFs is refused (fail closed);
// other VMs go on, since vifd has nothing to do for them.
import { DEFAULT_SOCKET_PATH, callMethod } from '../api/control-client.js';
import { ControlConnectionError, DaemonUnavailableError } from '../api/errors.js';
import { VIFD_XML_NS } from '../model/xmlns.js';
import { VifdError } from '../model/errors.js';
import { MAX_DOMAIN_XML_BYTES, tooLargeMessage } from '../model/limits.js';

const CONNECT_TIMEOUT_MS = 10_000;
const CALL_TIMEOUT_MS = 60_000;

const oneLine = (message: string): string => message.replace(/[\r\n]+/g, ' ');

function bound(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/**
 * The domain XML, or its size when over the bound. Past the bound the rest is
 * read and dropped (libvirt's write must not fail with EPIPE), never kept.
 */
async function readBounded(stdin: NodeJS.ReadableStream): Promise<string | { tooLarge: number }> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += bytes.length;
    if (total <= MAX_DOMAIN_XML_BYTES) chunks.push(bytes);
    else chunks.length = 0;
  }
  return total > MAX_DOMAIN_XML_BYTES ? { tooLarge: total } : Buffer.concat(chunks, total).toString('utf8');
}

export async function runHook(argv: readonly string[], stdin: NodeJS.ReadableStream, err: (line: string) => void): Promise<number> {
  const [driver, domain = '?', op = ''] = argv;
  const xml = await readBounded(stdin);
  if (driver !== 'qemu' || (op !== 'prepare' && op !== 'release' && op !== 'migrate')) return 0;
  if (typeof xml !== 'string') {
    const who = `VM ${JSON.stringify(domain)}`;
    if (op !== 'release') {
      err(`vifd: refused: ${who}: ${tooLargeMessage(xml.tooLarge)}`);
      return 1;
    }
    err(`vifd: ${who}: ${tooLargeMessage(xml.tooLarge)}; its VIFs are removed by vifd's next reconcile`);
    return 0;
  }
  if (op === 'migrate') return checkMigration(xml, err);
  const socket = process.env.VIFD_SOCKET ?? DEFAULT_SOCKET_PATH;
  // A VM with vifd intent waits (bounded) for a daemon that may be starting; any
  // other VM is only checked (VIF limit) when vifd answers at once, never delayed.
  const needsVifd = xml.includes(VIFD_XML_NS);
  const call = (): Promise<unknown> => callMethod(socket, op, { xml }, {
    connectTimeoutMs: needsVifd && op === 'prepare' ? bound('VIFD_HOOK_CONNECT_TIMEOUT_MS', CONNECT_TIMEOUT_MS) : 0,
    timeoutMs: bound('VIFD_HOOK_CALL_TIMEOUT_MS', CALL_TIMEOUT_MS),
  });
  try {
    try {
      await call();
    } catch (error) {
      // The daemon went away mid-call (a crash; systemd restarts it): prepare and
      // release are idempotent, so ask once more, waiting for it within the same bounds.
      if (!(error instanceof ControlConnectionError)) throw error;
      await call();
    }
    return 0;
  } catch (error) {
    const who = `VM ${JSON.stringify(domain)}`;
    if (error instanceof DaemonUnavailableError) {
      if (op === 'release') {
        if (needsVifd) err(`vifd: ${who} stopped while vifd is not running; vifd removes its VIFs when it starts`);
        return 0;
      }
      if (!needsVifd) return 0;
      err(`vifd: refusing to start ${who}: its VIFs are managed by vifd, which is not running (${oneLine(error.message)}); start vifd first`);
      return 1;
    }
    const message = error instanceof VifdError || error instanceof Error ? error.message : String(error);
    err(`vifd: ${op === 'prepare' ? 'refused' : 'release failed'}: ${oneLine(message)}`);
    return op === 'prepare' ? 1 : 0;
  }
}

/**
 * migrate needs no daemon: whether the VM may live-migrate follows from its
 * XML alone (an SR-IOV VF without a virtio failover twin may not). The parser
 * is loaded only here, so prepare and release do not pay for it.
 */
async function checkMigration(xml: string, err: (line: string) => void): Promise<number> {
  const { checkMigrationFromHook } = await import('../sources/libvirt/hook-requests.js');
  try {
    await checkMigrationFromHook(xml);
    return 0;
  } catch (error) {
    err(`vifd: refused: ${oneLine(error instanceof Error ? error.message : String(error))}`);
    return 1;
  }
}

runHook(process.argv.slice(2), process.stdin, (line) => process.stderr.write(`${line}\n`)).then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`vifd: hook failed: ${oneLine(error instanceof Error ? error.message : String(error))}\n`);
  process.exitCode = 1;
});
