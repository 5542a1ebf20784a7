import assert from 'node:assert/strict';
import { formatTable, tableName } from '../../../src/cli/table.js';

describe('cli/table: names in table cells', () => {
  it('leaves plain names bare', () => {
    for (const name of ['web1', 'vifdlab-web', 'a.b_c-1', 'Ünïcödé', '数据库', 'x:y@z']) assert.equal(tableName(name), name);
  });

  it('quotes names that would shift columns, look like syntax or be empty', () => {
    assert.equal(tableName('my vm'), '"my vm"');
    assert.equal(tableName(''), '""');
    assert.equal(tableName('-'), '"-"'); // "-" is the empty cell
    assert.equal(tableName('say "hi"'), '"say \\"hi\\""');
    assert.equal(tableName("it's"), '"it\'s"');
    assert.equal(tableName('back\\slash'), '"back\\\\slash"');
    assert.equal(tableName('nbsp\u00a0here'), '"nbsp\u00a0here"');
  });

  it('escapes every control or format character, those JSON leaves as they are too', () => {
    assert.equal(tableName('two\nlines'), '"two\\nlines"');
    assert.equal(tableName('bell\u0007'), '"bell\\u0007"');
    assert.equal(tableName('del\u007f'), '"del\\u007f"');
    assert.equal(tableName('c1\u0085'), '"c1\\u0085"');
    assert.equal(tableName('rtl\u202eevil'), '"rtl\\u202eevil"');
    assert.equal(tableName('ls\u2028ps\u2029'), '"ls\\u2028ps\\u2029"');
    assert.equal(tableName('tag\u{e0041}'), '"tag\\u{e0041}"');
    assert.equal(tableName('esc\u001b[2J'), '"esc\\u001b[2J"');
  });

  it('aligns a quoted name like any other cell', () => {
    assert.equal(formatTable([['A', 'B'], [tableName('my vm'), 'x'], ['web1', 'y']]), 'A        B\n"my vm"  x\nweb1     y');
  });
});
