// vifd as the lab runs it: the systemd unit where systemd is PID 1, else a
// detached process (its own session, so it outlives `make lab`) whose pid is
// kept in PID_PATH, the only vifd the lab will ever stop.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { run, tryRun } from '../test/harness/exec.js';
import { CONFIG_PATH, CONTROL_SOCKET, LOG_PATH, PID_PATH, VIFCTL_BIN, VIFD_BIN } from './topology.js';
import { LabError, say, tail, waitUntil } from './output.js';

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export const systemdRunning = (): boolean => existsSync('/run/systemd/system');

/** True when a daemon answers `vifctl status` on the control socket. */
export async function daemonAnswers(): Promise<boolean> {
  if (!existsSync(VIFCTL_BIN)) return false;
  return (await tryRun([VIFCTL_BIN, 'status', '--json'], { timeoutMs: 10_000 })).code === 0;
}

function processState(pid: number): string | null {
  try {
    // The state follows the parenthesised command name, which may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null; // no such process
  }
}

// A zombie has exited; only its parent's wait is missing, and that parent may
// be a PID 1 that never reaps.
const alive = (pid: number): boolean => { const state = processState(pid); return state !== null && state !== 'Z'; };

/** The pid in PID_PATH if it is still the vifd the lab started (pids are reused). */
function labDaemonPid(): number | null {
  if (!existsSync(PID_PATH)) return null;
  const pid = Number.parseInt(readFileSync(PID_PATH, 'utf8'), 10);
  if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) return null;
  let cmdline: string[];
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null; // it exited meanwhile
  }
  return cmdline.some((arg) => arg.endsWith('/vifd.js') || arg === VIFD_BIN) ? pid : null;
}

/** Stops the detached vifd the lab started, if any; returns a note or null. */
export async function stopLabDaemon(): Promise<string | null> {
  const pid = labDaemonPid();
  rmSync(PID_PATH, { force: true });
  if (pid === null) return null;
  process.kill(pid, 'SIGTERM');
  if (!(await waitUntil(() => !alive(pid), STOP_TIMEOUT_MS, 100))) {
    process.kill(pid, 'SIGKILL');
    if (!(await waitUntil(() => !alive(pid), 5_000, 100))) throw new LabError(`vifd (pid ${pid}) survived SIGKILL`);
    return `stopped vifd (pid ${pid}) with SIGKILL after ${STOP_TIMEOUT_MS / 1000} s`;
  }
  return `stopped vifd (pid ${pid})`;
}

async function waitForAnswer(what: string, exited: () => string | null, logTail: () => Promise<string>): Promise<void> {
  const seen = { exit: null as string | null };
  const answered = await waitUntil(async () => {
    seen.exit = exited();
    return seen.exit !== null || daemonAnswers();
  }, START_TIMEOUT_MS, 300);
  if (answered && seen.exit === null) return;
  const why = seen.exit ?? `did not answer vifctl status on ${CONTROL_SOCKET} within ${START_TIMEOUT_MS / 1000} s`;
  throw new LabError(`${what} ${why}; the end of its log:\n${await logTail()}`);
}

async function startWithSystemd(): Promise<void> {
  await run(['systemctl', 'enable', 'vifd.service']);
  // restart, not start: a vifd already running must read the lab config.
  await run(['systemctl', 'restart', 'vifd.service'], { timeoutMs: 60_000 });
  const exited = (): string | null => null;
  await waitForAnswer('vifd.service', exited, async () =>
    (await tryRun(['journalctl', '-u', 'vifd.service', '-n', '30', '--no-pager'])).stdout);
  say('vifd runs as vifd.service (systemctl enable + restart)');
}

async function startDetached(): Promise<void> {
  const note = await stopLabDaemon();
  if (note !== null) say(`${note}, started by an earlier make lab`);
  if (await daemonAnswers()) {
    throw new LabError(`a vifd the lab did not start answers on ${CONTROL_SOCKET} (an e2e test run?); ` +
      'stop it first: two daemons would fight over the same VIFs');
  }
  const logStart = existsSync(LOG_PATH) ? statSync(LOG_PATH).size : 0;
  const log = openSync(LOG_PATH, 'a');
  const child = spawn(VIFD_BIN, ['--config', CONFIG_PATH], { detached: true, stdio: ['ignore', log, log], cwd: '/' });
  closeSync(log);
  let exitNote: string | null = null;
  child.once('exit', (code, signal) => { exitNote = `exited (${signal ?? `code ${String(code)}`}) before answering`; });
  await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
  if (child.pid === undefined) throw new LabError(`could not start ${VIFD_BIN}`);
  writeFileSync(PID_PATH, `${child.pid}\n`);
  child.unref();
  await waitForAnswer(`vifd (pid ${child.pid})`, () => exitNote, () => {
    const text = readFileSync(LOG_PATH, 'utf8');
    return Promise.resolve(tail(text.slice(logStart)));
  });
  say(`vifd runs detached as pid ${child.pid} (no systemd here): log ${LOG_PATH}, pid in ${PID_PATH}`);
}

export async function startDaemon(): Promise<void> {
  if (systemdRunning()) {
    const note = await stopLabDaemon();
    if (note !== null) say(note);
    await startWithSystemd();
  } else {
    await startDetached();
  }
}

/** Stops whatever the lab started: the unit (disabled again) or the detached process. */
export async function stopDaemon(): Promise<string> {
  const notes: string[] = [];
  if (systemdRunning()) {
    const result = await tryRun(['systemctl', 'disable', '--now', 'vifd.service'], { timeoutMs: 60_000 });
    notes.push(result.code === 0 ? 'vifd.service stopped and disabled' : `vifd.service: ${result.stderr.trim() || 'not installed'}`);
  }
  const note = await stopLabDaemon();
  if (note !== null) notes.push(note);
  return notes.length === 0 ? 'no vifd started by the lab was running' : notes.join('; ');
}

/** For the final check: is a vifd the lab started still running? `unit`: count vifd.service as the lab's. */
export async function labDaemonRunning(unit: boolean): Promise<boolean> {
  if (labDaemonPid() !== null) return true;
  if (!unit || !systemdRunning()) return false;
  return (await tryRun(['systemctl', 'is-active', '--quiet', 'vifd.service'])).code === 0;
}
