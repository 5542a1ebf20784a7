// The base of every typed error: a failure names what it is about (VM, VIF
// index, field, offending value) so an operator can act on one line of log or
// hook output. Inner code throws with the field; outer layers add VM and VIF.
// Here, apart from vifd's own errors (src/model/errors.ts), so that code which
// knows nothing of vifd (the libvirt binding) can throw them too.

export interface ErrorContext {
  /** The config file or other source the value came from. */
  readonly source?: string;
  /** The VM's name as libvirt/XAPI knows it (untrusted; quoted when shown). */
  readonly domain?: string;
  readonly vmUuid?: string;
  readonly vifIndex?: number;
  /** The field, or for config errors the dotted path, e.g. networks.prod.vlan. */
  readonly field?: string;
  /**
   * The offending value as given, for machine readers (vifctl --json, tests).
   * Not added to the message: `detail` already shows it, quoted and bounded.
   */
  readonly value?: unknown;
}

export interface ErrorOptions {
  readonly cause?: unknown;
}

const MAX_SHOWN_VALUE = 80;
/** Text that cannot break a log line or be mistaken for syntax: shown bare. */
const BARE = /^[0-9A-Za-z-]{1,36}$/;

// lib.d.ts promises a string, but functions and symbols give undefined.
const toJson: (value: unknown) => string | undefined = JSON.stringify;

/** A value as it appears in a one-line message: quoted, escaped, bounded. */
export function describeValue(value: unknown): string {
  let text: string;
  if (value === undefined) text = 'nothing';
  else if (typeof value === 'number') text = String(value); // JSON would show NaN and Infinity as null
  else {
    try {
      text = toJson(value) ?? `a ${typeof value}`;
    } catch {
      text = Object.prototype.toString.call(value); // cyclic or BigInt: its kind is enough
    }
  }
  return text.length > MAX_SHOWN_VALUE ? `${text.slice(0, MAX_SHOWN_VALUE - 1)}…` : text;
}

function subject(context: ErrorContext): string {
  const parts: string[] = [];
  if (context.source !== undefined) parts.push(context.source);
  // VM names and UUIDs are untrusted: names are always quoted and escaped, a UUID when it looks odd.
  const uuid = context.vmUuid === undefined || BARE.test(context.vmUuid) ? context.vmUuid : describeValue(context.vmUuid);
  const vm = context.domain !== undefined ? `VM ${JSON.stringify(context.domain)}` : uuid !== undefined ? `VM ${uuid}` : '';
  const vif = context.vifIndex !== undefined ? `VIF ${context.vifIndex}` : '';
  const who = [vm, vif].filter((part) => part !== '').join(' ');
  if (who !== '') parts.push(who);
  if (context.field !== undefined) parts.push(context.field);
  return parts.map((part) => `${part}: `).join('');
}

export abstract class VifdError extends Error {
  abstract readonly code: string;

  constructor(
    /** What went wrong, without the subject (which `context` supplies). */
    readonly detail: string,
    readonly context: ErrorContext = {},
    options: ErrorOptions = {},
  ) {
    super(`${subject(context)}${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }

  /** The same error with more context; what the error already knows wins. */
  withContext(extra: ErrorContext): this {
    const Kind = this.constructor as new (detail: string, context: ErrorContext, options: ErrorOptions) => this;
    return new Kind(this.detail, mergeContext(extra, this.context), { cause: this.cause });
  }
}

/** `own` over `extra`, except that a key `own` holds as undefined does not erase what `extra` knows. */
export function mergeContext(extra: ErrorContext, own: ErrorContext): ErrorContext {
  const merged: Record<string, unknown> = { ...extra };
  for (const [key, value] of Object.entries(own)) if (value !== undefined) merged[key] = value;
  return merged;
}

/**
 * Runs `work`, adding `context` (the VM, the VIF) to any VifdError it throws:
 * inner validators know the field, only the caller knows whose field it is.
 */
export function withErrorContext<T>(context: ErrorContext, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof VifdError) throw error.withContext(context);
    throw error;
  }
}
