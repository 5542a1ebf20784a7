import assert from 'node:assert/strict';
import { InvalidInputError } from '../../../src/model/errors.js';

/** Asserts that `fn` throws an InvalidInputError naming `field`, with a message matching `pattern`. */
export function assertInvalidInput(fn: () => unknown, pattern: RegExp, field: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InvalidInputError, `expected InvalidInputError, got ${String(error)}`);
    assert.equal(error.context.field, field);
    assert.match(error.message, pattern);
    return true;
  });
}
