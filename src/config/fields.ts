// Reading untrusted config objects field by field, so every error carries the
// dotted path of the field (networks.prod.vlan) and unknown keys are refused:
// a typo in a config file must not silently fall back to a default.
import { ConfigError, InvalidInputError, describeValue } from '../model/errors.js';

/** The path shown for errors about the document as a whole. */
export const TOP_LEVEL = '(top level)';

export const joinPath = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

/** A YAML/JSON mapping; not an array, nor a Map, Set or Date that a !!tag can produce. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * The errors found so far. Each field is read through attempt(): a bad field
 * is recorded and a stand-in used, so one pass over a file finds every error
 * (vifd --check-config shows them all), not only the first.
 */
export class ConfigProblems {
  readonly errors: ConfigError[] = [];

  attempt<T>(read: () => T, fallback: T): T {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.errors.push(error);
      return fallback;
    }
  }
}

export class ObjectReader {
  private constructor(
    private readonly object: Record<string, unknown>,
    readonly path: string,
  ) {}

  /**
   * `value` must be a mapping (or absent: then it reads as empty) with only
   * `keys`. With `problems`, a non-mapping is recorded and read as empty, and
   * unknown keys are recorded while the known ones are still read.
   */
  static of(value: unknown, path: string, keys: readonly string[], problems?: ConfigProblems): ObjectReader {
    if (value === undefined || value === null) return new ObjectReader({}, path);
    if (!isPlainObject(value)) {
      const error = new ConfigError(`expected a mapping, got ${describeValue(value)}`, { field: path || TOP_LEVEL, value });
      if (problems === undefined) throw error;
      problems.errors.push(error);
      return new ObjectReader({}, path);
    }
    const unknown = Object.keys(value).filter((key) => !keys.includes(key));
    if (unknown.length > 0) {
      const names = unknown.map((key) => JSON.stringify(key)).join(', ');
      const error = new ConfigError(`unknown key${unknown.length > 1 ? 's' : ''} ${names} (known: ${keys.join(', ')})`, { field: path || TOP_LEVEL, value: unknown });
      if (problems === undefined) throw error;
      problems.errors.push(error);
    }
    return new ObjectReader(value, path);
  }

  raw(key: string): unknown {
    return this.object[key];
  }

  at(key: string): string {
    return joinPath(this.path, key);
  }

  string(key: string, fallback: string): string {
    const value = this.object[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || value === '') throw new ConfigError(`expected a non-empty string, got ${describeValue(value)}`, { field: this.at(key), value });
    return value;
  }

  absolutePath(key: string, fallback: string): string {
    const value = this.string(key, fallback);
    if (!value.startsWith('/')) throw new ConfigError(`${describeValue(value)} is not an absolute path`, { field: this.at(key), value });
    return value;
  }

  oneOf<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const value = this.object[key];
    if (value === undefined) return fallback;
    if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
    throw new ConfigError(`${describeValue(value)} is not one of ${choices.join(', ')}`, { field: this.at(key), value });
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.object[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw new ConfigError(`expected true or false, got ${describeValue(value)}`, { field: this.at(key), value });
    return value;
  }

  integer(key: string, range: { min: number; max: number }, fallback?: number): number | undefined {
    const value = this.object[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new ConfigError(`expected an integer, got ${describeValue(value)}`, { field: this.at(key), value });
    }
    if (value < range.min || value > range.max) {
      throw new ConfigError(`${value} is outside ${range.min}-${range.max}`, { field: this.at(key), value });
    }
    return value;
  }

  /** Runs a model parser on a field; the parser is given the field's full path. */
  parsed<T>(key: string, parse: (value: unknown, field: string) => T): T {
    return asConfigError(() => parse(this.object[key], this.at(key)));
  }
}

/** Model validators throw InvalidInputError; in a config file it is a ConfigError. */
export function asConfigError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof InvalidInputError) {
      const { field, value } = error.context;
      throw new ConfigError(error.detail, field === undefined ? { value } : { field, value }, { cause: error });
    }
    throw error;
  }
}
