// Identifiers that come from VM definitions and are therefore untrusted.
import { InvalidInputError, describeValue } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A VM UUID in canonical 8-4-4-4-12 form, any case; returned lowercase. */
export function parseVmUuid(input: unknown, field = 'uuid'): string {
  if (typeof input !== 'string' || !UUID.test(input)) {
    throw new InvalidInputError(`${describeValue(input)} is not a UUID (expected 8-4-4-4-12 hex digits)`, { field, value: input });
  }
  return input.toLowerCase();
}

/** The largest VIF index device names have room for (see names.ts). */
export const MAX_VIF_INDEX = 999;

export function parseVifIndex(input: unknown, field = 'index'): number {
  if (typeof input !== 'number' || !Number.isInteger(input) || input < 0 || input > MAX_VIF_INDEX) {
    throw new InvalidInputError(`${describeValue(input)} is not a VIF index (an integer 0-${MAX_VIF_INDEX})`, { field, value: input });
  }
  return input;
}
