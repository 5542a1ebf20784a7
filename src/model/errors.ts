// The VifdError family: every failure names what it is about (VM, VIF index,
// field, offending value) so an operator can act on one line of log or hook
// output. Inner code throws with the field; outer layers add VM and VIF.

export interface ErrorContext {
  /** The config file or other source the value came from. */
  readonly source?: string;
  /** The VM's name as libvirt/XAPI knows it (untrusted; quoted when shown). */
  readonly domain?: string;
  readonly vmUuid?: string;
  readonly vifIndex?: number;
  /** The field, or for config errors the dotted path, e.g. networks.prod.vlan. */
  readonly field?: string;
}

export interface ErrorOptions {
  readonly cause?: unknown;
}

const MAX_SHOWN_VALUE = 80;

/** A value as it appears in a one-line message: quoted, escaped, bounded. */
export function describeValue(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (value === undefined) text = 'nothing';
  else {
    try {
      text = JSON.stringify(value);
    } catch {
      text = Object.prototype.toString.call(value); // cyclic or BigInt: its kind is enough
    }
  }
  return text.length > MAX_SHOWN_VALUE ? `${text.slice(0, MAX_SHOWN_VALUE - 1)}…` : text;
}

function subject(context: ErrorContext): string {
  const parts: string[] = [];
  if (context.source !== undefined) parts.push(context.source);
  const vm = context.domain !== undefined ? `VM ${JSON.stringify(context.domain)}` : context.vmUuid !== undefined ? `VM ${context.vmUuid}` : '';
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
    return new Kind(this.detail, { ...extra, ...this.context }, { cause: this.cause });
  }
}

/** Intent or input that cannot be used: a bad VLAN, MAC, name, UUID... */
export class InvalidInputError extends VifdError {
  readonly code = 'invalid-input';
}

/** More VIFs than the VM may have. */
export class LimitExceededError extends VifdError {
  readonly code = 'limit-exceeded';
}

/** The host config file; `context.field` is the dotted path of the bad field. */
export class ConfigError extends VifdError {
  readonly code = 'config';

  get path(): string {
    return this.context.field ?? '';
  }
}
