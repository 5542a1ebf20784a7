// @ts-check
// vifd's folder rules as a lint rule (design.md "Layout"). ESLint's own
// no-restricted-imports can only deny what it is told of; this rule reads an
// allow-list per folder, so a new folder or a new kind of import is checked
// the day it appears, and it follows a program's whole import graph (the hook
// program must not load libvirt through anything it imports).
//
// Options (one object): root (the project folder), covered (folders whose
// every file must belong to a zone), zones [{ folder, allow, denyPackages?,
// why }] (the longest folder containing a file is its zone), programs
// [{ files, deny, denyPackages, why }] (entry files whose runtime import graph
// must not reach `deny` or `denyPackages`). Paths are relative to root.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const toPosix = (file) => file.split(path.sep).join('/');
const stripExtension = (file) => file.replace(/\.(?:[cm]?[jt]s|d\.ts)$/, '');

/** Whether `file` is `entry` (a file, with or without extension) or lies in the folder `entry`. */
export function within(file, entry) {
  const bare = stripExtension(file);
  const base = stripExtension(entry);
  return bare === base || file.startsWith(`${entry.replace(/\/$/, '')}/`);
}

/** The package a bare specifier names (`node:fs/promises` -> `fs`, `@a/b/c` -> `@a/b`), or null for a path. */
export function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return null;
  const name = specifier.replace(/^node:/, '');
  const parts = name.split('/');
  return name.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? name);
}

/** The zone of a root-relative file: the entry with the longest folder containing it. */
export function zoneOf(file, zones) {
  let best;
  for (const zone of zones) {
    if (within(file, zone.folder) && (best === undefined || zone.folder.length > best.folder.length)) best = zone;
  }
  return best;
}

/** The source file a relative import names, on disk: `x.js` is compiled from `x.ts`. */
function sourceFileOf(absolute) {
  const candidates = [absolute.replace(/\.js$/, '.ts'), absolute, `${absolute}.ts`, path.join(absolute, 'index.ts')];
  return candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
}

const parsedImports = new Map();

/** The specifiers a file loads at run time: static and dynamic imports and re-exports, type-only ones left out. */
export function runtimeImportsOf(file) {
  const { mtimeMs, size } = statSync(file);
  const stamp = `${mtimeMs}:${size}`;
  const cached = parsedImports.get(file);
  if (cached?.stamp === stamp) return cached.specifiers;
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const specifiers = [];
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      if (node.importClause?.phaseModifier !== ts.SyntaxKind.TypeKeyword) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.isTypeOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteralLike(argument)) specifiers.push(argument.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  parsedImports.set(file, { stamp, specifiers });
  return specifiers;
}

/**
 * The first forbidden module the runtime import graph from `start` reaches, with
 * the files in between, or null. Breadth first, so the chain shown is a shortest one.
 */
export function findForbidden(root, start, program) {
  const seen = new Set([start]);
  const queue = [{ file: start, chain: [] }];
  while (queue.length > 0) {
    const { file, chain } = queue.shift();
    const here = toPosix(path.relative(root, file));
    if (program.deny.some((entry) => within(here, entry))) return { target: here, chain };
    for (const specifier of runtimeImportsOf(file)) {
      const name = packageOf(specifier);
      if (name !== null) {
        if ((program.denyPackages ?? []).includes(name)) return { target: `the package '${specifier}'`, chain: [...chain, here] };
        continue;
      }
      const next = sourceFileOf(path.resolve(path.dirname(file), specifier));
      if (next !== undefined && !seen.has(next)) {
        seen.add(next);
        queue.push({ file: next, chain: [...chain, here] });
      }
    }
  }
  return null;
}

const messages = {
  notAllowed: "{{importer}} may import only {{allowed}} ({{why}}); '{{specifier}}' is {{target}}",
  packageDenied: "{{importer}} must not import the package '{{specifier}}' ({{why}})",
  noZone: '{{file}} lies in no folder of the import-boundaries table (eslint-rules/boundaries.js): add its folder with what it may import',
  programLoads: '{{program}} must never load {{target}} ({{why}}){{through}}',
};

/** Every import of the file being linted, as { node, specifier, typeOnly }. */
function importVisitors(onImport) {
  const literal = (node) => (node?.type === 'Literal' && typeof node.value === 'string' ? node.value : null);
  const named = (node, typeOnly) => {
    const specifier = literal(node.source);
    if (specifier !== null) onImport({ node: node.source, specifier, typeOnly });
  };
  return {
    ImportDeclaration: (node) => named(node, node.importKind === 'type'),
    ExportNamedDeclaration: (node) => named(node, node.exportKind === 'type'),
    ExportAllDeclaration: (node) => named(node, node.exportKind === 'type'),
    ImportExpression: (node) => named(node, false),
    TSImportType: (node) => {
      const specifier = literal(node.argument?.literal ?? node.argument);
      if (specifier !== null) onImport({ node: node.argument, specifier, typeOnly: true });
    },
  };
}

function checkZone(context, zone, imported) {
  const { root } = context.options[0];
  const { node, specifier } = imported;
  const name = packageOf(specifier);
  if (name !== null) {
    if ((zone.denyPackages ?? []).includes(name)) context.report({ node, messageId: 'packageDenied', data: { importer: zone.folder, specifier, why: zone.why } });
    return;
  }
  const target = toPosix(path.relative(root, path.resolve(path.dirname(context.filename), specifier)));
  if (zone.allow.some((folder) => within(target, folder))) return;
  context.report({
    node,
    messageId: 'notAllowed',
    data: { importer: zone.folder, allowed: zone.allow.join(', '), why: zone.why, specifier, target },
  });
}

function checkProgram(context, program, importer, imported) {
  const { root } = context.options[0];
  const { node, specifier } = imported;
  const report = (target, chain) => context.report({
    node,
    messageId: 'programLoads',
    data: { program: importer, target, why: program.why, through: chain.length > 0 ? ` through ${chain.join(' -> ')}` : '' },
  });
  const name = packageOf(specifier);
  if (name !== null) {
    if ((program.denyPackages ?? []).includes(name)) report(`the package '${specifier}'`, []);
    return;
  }
  const absolute = path.resolve(path.dirname(context.filename), specifier);
  const direct = toPosix(path.relative(root, absolute));
  if (program.deny.some((entry) => within(direct, entry))) {
    report(direct, []);
    return;
  }
  const file = sourceFileOf(absolute);
  const found = file === undefined ? null : findForbidden(root, file, program);
  if (found !== null) report(found.target, found.chain);
}

/** @type {import('eslint').Rule.RuleModule} */
export const importBoundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'which folder of src/ may import which; which programs must never load which modules' },
    schema: [{ type: 'object', required: ['root', 'zones'], additionalProperties: false, properties: {
      root: { type: 'string' },
      covered: { type: 'array', items: { type: 'string' } },
      zones: { type: 'array', items: { type: 'object', required: ['folder', 'allow', 'why'], additionalProperties: false, properties: {
        folder: { type: 'string' }, allow: { type: 'array', items: { type: 'string' } }, denyPackages: { type: 'array', items: { type: 'string' } }, why: { type: 'string' },
      } } },
      programs: { type: 'array', items: { type: 'object', required: ['files', 'deny', 'why'], additionalProperties: false, properties: {
        files: { type: 'array', items: { type: 'string' } }, deny: { type: 'array', items: { type: 'string' } }, denyPackages: { type: 'array', items: { type: 'string' } }, why: { type: 'string' },
      } } },
    } }],
    messages,
  },
  create(context) {
    const { root, covered = [], zones, programs = [] } = context.options[0];
    const importer = toPosix(path.relative(root, context.filename));
    const zone = zoneOf(importer, zones);
    const program = programs.find((entry) => entry.files.includes(importer));
    if (zone === undefined && covered.some((folder) => within(importer, folder))) {
      return { Program: (node) => context.report({ node, messageId: 'noZone', data: { file: importer } }) };
    }
    return importVisitors((imported) => {
      if (zone !== undefined) checkZone(context, zone, imported);
      if (program !== undefined && !imported.typeOnly) checkProgram(context, program, importer, imported);
    });
  },
};

export default { meta: { name: 'vifd' }, rules: { 'import-boundaries': importBoundaries } };
