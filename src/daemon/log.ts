// winston, shaped for journald: one event per line, `message key=value ...`
// with values quoted when they need it (VM names are untrusted and may hold
// newlines or quotes: JSON quoting keeps each event on one line). Under
// systemd (JOURNAL_STREAM set) each line starts with the sd-daemon priority
// prefix, so journald records the right level; journald adds the timestamp.
import winston from 'winston';
import type { EngineLog } from '../engine/types.js';
import type { LogLevel } from '../config/schema.js';

const SYSLOG_PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };
const BARE_VALUE = /^[A-Za-z0-9_.:/@+-]{1,200}$/;
// lib.d.ts promises a string, but undefined, functions and symbols give undefined.
const toJson: (value: unknown) => string | undefined = JSON.stringify;

export function formatFields(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => {
      const text = typeof value === 'string' ? value : toJson(value) ?? String(value);
      return `${key}=${BARE_VALUE.test(text) ? text : JSON.stringify(text)}`;
    })
    .join(' ');
}

/** One log line; anything that would break the one-event-per-line rule is escaped. */
export function formatLine(level: string, message: string, fields: Record<string, unknown>, journald: boolean, now = new Date()): string {
  const rest = formatFields(fields);
  const line = `${message.replace(/[\r\n]+/g, '\\n')}${rest === '' ? '' : ` ${rest}`}`;
  return journald ? `<${SYSLOG_PRIORITY[level] ?? 6}>${line}` : `${now.toISOString()} ${level} ${line}`;
}

export type DaemonLog = EngineLog & { close(): void; setLevel(level: LogLevel): void };

export function createLogger(level: LogLevel, journald = process.env.JOURNAL_STREAM !== undefined): DaemonLog {
  const format = winston.format.printf(({ level: infoLevel, message, ...fields }) => formatLine(infoLevel, String(message), fields, journald));
  // Everything to stderr: stdout stays free for a supervisor that wants it, and journald takes both.
  // winston's typings declare transports as a class its own constructors do not satisfy.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
  const logger = winston.createLogger({ level, format, transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })] });
  return {
    error: (message, fields) => { logger.error(message, fields); },
    warn: (message, fields) => { logger.warn(message, fields); },
    info: (message, fields) => { logger.info(message, fields); },
    debug: (message, fields) => { logger.debug(message, fields); },
    close: () => { logger.close(); },
    setLevel: (next) => { logger.level = next; },
  };
}
