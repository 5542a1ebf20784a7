// Plain-text tables for vifctl's human output (scripts use --json).

/** Left-aligned columns, two spaces apart; the first row is the header. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()).join('\n');
}

// Whitespace would shift columns, quotes and backslashes would be ambiguous
// beside a quoted name, control and format characters (C0, DEL, C1, bidi
// overrides, line/paragraph separators) could rewrite the terminal line.
const NEEDS_QUOTES = /[\s"'\\\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

const escapeCodePoint = (char: string): string => {
  const code = char.codePointAt(0) ?? 0;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * A VM name (untrusted) for a table cell: bare when it is safe to show bare,
 * otherwise JSON-quoted with every invisible character escaped (JSON leaves
 * C1, bidi controls and U+2028/9 as they are).
 */
export function tableName(name: string): string {
  // "-" is what a cell with no value shows.
  if (name !== '' && name !== '-' && !NEEDS_QUOTES.test(name)) return name;
  return JSON.stringify(name).replace(INVISIBLE, escapeCodePoint);
}
