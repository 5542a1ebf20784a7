// `vifctl events [--config FILE] [--uri URI] [--json]`: every domain event the
// host's libvirt (--uri, else libvirt.uri from the config) reports, one line
// (or one JSON object) per event, until interrupted. It also says when the
// connection to libvirtd drops, each failed attempt to reconnect (with libvirt's
// reason) and when it comes back. The libvirt binding is loaded
// only when the command runs, never for --help.
import { parseArgs } from 'node:util';
import type { DomainEvent } from '../libvirt/events.js';
import { loadClientConfig } from './client-config.js';
import { loadLibvirt } from './load-libvirt.js';

export interface EventsOptions {
  readonly uri?: string;
  readonly config?: string;
  readonly json: boolean;
}

export function parseEventsArgs(argv: readonly string[]): EventsOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: { uri: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: false,
  });
  return { json: values.json, ...(values.uri === undefined ? {} : { uri: values.uri }), ...(values.config === undefined ? {} : { config: values.config }) };
}

type Line = DomainEvent | { type: 'connection'; state: string; uri: string; reason?: string };

/** Runs until `stop` resolves (SIGINT/SIGTERM in the CLI); returns the exit code. */
export async function runEvents(options: EventsOptions, out: NodeJS.WritableStream, stop: Promise<unknown>): Promise<number> {
  const uri = options.uri ?? loadClientConfig(options.config).libvirt.uri;
  const [{ LibvirtConnection }, { formatEvent }] = await Promise.all([loadLibvirt(), import('../libvirt/events.js')]);
  const line = (event: Line): string => {
    const time = new Date().toISOString();
    if (options.json) return JSON.stringify({ time, ...event });
    if (event.type === 'connection') return `${time} connection ${event.state} ${event.uri}${event.reason === undefined ? '' : `: ${event.reason}`}`;
    return `${time} ${formatEvent(event)}`;
  };
  const connection = await LibvirtConnection.open({ uri });
  const write = (event: Line): void => { out.write(`${line(event)}\n`); };
  connection.on('event', (event) => { write(event); });
  connection.on('disconnected', () => { write({ type: 'connection', state: 'lost', uri }); });
  connection.on('resync', () => { write({ type: 'connection', state: 'restored', uri }); });
  // A reconnect attempt that failed, and why: an operator watching events sees libvirtd's answer.
  connection.on('warning', (error) => { write({ type: 'connection', state: 'warning', uri, reason: error.message }); });
  write({ type: 'connection', state: 'open', uri });
  await stop;
  await connection.close();
  return 0;
}
