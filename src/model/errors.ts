// vifd's domain errors. The base (VifdError, ErrorContext, withErrorContext)
// lives in src/common/errors.ts and is re-exported here, so code that already
// imports it from the model keeps compiling.
import { VifdError } from '../common/errors.js';

export { VifdError, describeValue, mergeContext, withErrorContext } from '../common/errors.js';
export type { ErrorContext, ErrorOptions } from '../common/errors.js';

/** Intent or input that cannot be used: a bad VLAN, MAC, name, UUID... */
export class InvalidInputError extends VifdError {
  readonly code: string = 'invalid-input';
}

/** More VIFs than the VM may have. */
export class LimitExceededError extends VifdError {
  readonly code = 'limit-exceeded';
}

/** An explicit MAC another VM on the host already uses (invariant 6: never shared). */
export class MacInUseError extends InvalidInputError {
  override readonly code = 'mac-in-use';
}

/** The host config file; `context.field` is the dotted path of the bad field. */
export class ConfigError extends VifdError {
  readonly code = 'config';

  get path(): string {
    return this.context.field ?? '';
  }
}

/** A plug left VIFs it could not make; carries the first step's error as its cause. */
export class PlugError extends VifdError {
  readonly code = 'plug-failed';
}
