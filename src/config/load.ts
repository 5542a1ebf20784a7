// Config text to a plain value: one YAML 1.2 document (JSON is YAML too), read
// strictly enough that what validateConfig sees is what the operator wrote.
import { parseDocument } from 'yaml';
import type { ScalarTag, Tags, YAMLError } from 'yaml';
import { ConfigError } from '../model/errors.js';

// YAML 1.2 reads 0x64, 0o144 and 1e2 as 100 and 010 as 10: in a file of VLAN
// ids a typo or a stray leading zero would quietly become another number. Here
// only plain decimal integers are numbers; anything else stays text, which the
// field's own validator then refuses with the text as written.
const DECIMAL_INTEGER: ScalarTag = {
  identify: (value) => Number.isInteger(value),
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^-?(0|[1-9][0-9]*)$/,
  resolve: (text) => Number(text),
};
const NUMBER_TAGS = new Set(['tag:yaml.org,2002:int', 'tag:yaml.org,2002:float']);
// The schema hands over tag objects; names (TagId strings) are only what callers may pass in.
const strictNumbers = (tags: Tags): Tags =>
  [...tags.filter((tag) => typeof tag === 'string' || !NUMBER_TAGS.has(tag.tag)), DECIMAL_INTEGER];

function yamlError(problem: YAMLError, sourceName: string): ConfigError {
  const line = problem.linePos?.[0].line;
  const what = problem.message.split(' at line ')[0] ?? problem.message;
  return new ConfigError(`not valid YAML${line === undefined ? '' : ` at line ${line}`}: ${what}`, { source: sourceName }, { cause: problem });
}

/** The document's value, or every YAML error and warning in it (as ConfigErrors naming the line). */
export function readYamlText(text: string, sourceName: string):
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly errors: readonly ConfigError[] } {
  const document = parseDocument(text, {
    schema: 'core', version: '1.2', customTags: strictNumbers, uniqueKeys: true,
    logLevel: 'error', // problems become ConfigErrors below, never lines on stderr
  });
  // Warnings (an unknown !tag) are refused too: the value would not be what the file says.
  const problems = [...document.errors, ...document.warnings];
  if (problems.length > 0) return { ok: false, errors: problems.map((problem) => yamlError(problem, sourceName)) };
  try {
    return { ok: true, value: document.toJS({ maxAliasCount: 100 }) };
  } catch (error) {
    // An alias to no anchor, or aliases expanding without bound.
    const problem = new ConfigError(`not valid YAML: ${error instanceof Error ? error.message : String(error)}`, { source: sourceName }, { cause: error });
    return { ok: false, errors: [problem] };
  }
}

/** One YAML 1.2 document (a %YAML 1.1 directive does not bring back yes/no booleans); throws the first problem. */
export function parseYamlText(text: string, sourceName: string): unknown {
  const document = readYamlText(text, sourceName);
  if (document.ok) return document.value;
  throw document.errors[0] ?? new ConfigError('not valid YAML', { source: sourceName });
}
