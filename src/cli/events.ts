// `vifctl events [--uri URI] [--json]`: every domain event the host's libvirt
// reports, one line (or one JSON object) per event, until interrupted. It also
// says when the connection to libvirtd drops and comes back.
import { parseArgs } from 'node:util';
import { LibvirtConnection } from '../libvirt/connection.js';
import { formatEvent } from '../libvirt/events.js';
import type { DomainEvent } from '../libvirt/events.js';

export const EVENTS_USAGE = 'usage: vifctl events [--uri URI] [--json]';

export interface EventsOptions {
  readonly uri: string;
  readonly json: boolean;
}

export function parseEventsArgs(argv: readonly string[]): EventsOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: { uri: { type: 'string', default: 'qemu:///system' }, json: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: false,
  });
  return { uri: values.uri, json: values.json };
}

function line(options: EventsOptions, event: DomainEvent | { type: 'connection'; state: string; uri: string }): string {
  const time = new Date().toISOString();
  if (options.json) return JSON.stringify({ time, ...event });
  if (event.type === 'connection') return `${time} connection ${event.state} ${event.uri}`;
  return `${time} ${formatEvent(event)}`;
}

/** Runs until `stop` resolves (SIGINT/SIGTERM in the CLI); returns the exit code. */
export async function runEvents(options: EventsOptions, out: NodeJS.WritableStream, stop: Promise<unknown>): Promise<number> {
  const connection = await LibvirtConnection.open({ uri: options.uri });
  const write = (text: string): void => { out.write(`${text}\n`); };
  connection.on('event', (event) => { write(line(options, event)); });
  connection.on('disconnected', () => { write(line(options, { type: 'connection', state: 'lost', uri: options.uri })); });
  connection.on('resync', () => { write(line(options, { type: 'connection', state: 'restored', uri: options.uri })); });
  write(line(options, { type: 'connection', state: 'open', uri: options.uri }));
  await stop;
  await connection.close();
  return 0;
}
