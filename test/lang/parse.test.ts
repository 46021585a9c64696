import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type * as A from '../../src/lang/ast.js';
import { parseProgram } from '../../src/lang/parse.js';

const languageDoc = readFileSync(new URL('../../docs/language.md', import.meta.url), 'utf8');
const pstBlocks = [...languageDoc.matchAll(/```pst\n([\s\S]*?)```/g)].map((m) => m[1]!);

function parseClean(text: string): A.Program {
  const { program, diagnostics } = parseProgram(text, 't.pst');
  expect(diagnostics).toEqual([]);
  return program;
}

/** The AST without spans, for shape assertions. */
function shape(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x, (k, v) => (k === 'span' ? undefined : v)));
}

function firstModelBody(text: string): A.Member[] {
  const decl = parseClean(text).decls[0]!;
  if (decl.kind !== 'model') throw new Error('expected a model');
  return decl.body;
}

function valueOf(text: string): A.Expr {
  const member = firstModelBody(`model m { x = ${text} }`)[0]!;
  if (member.kind !== 'property') throw new Error('expected a property');
  return member.value;
}

describe('parseProgram: docs/language.md', () => {
  it('parses every pst block of the language reference without errors', () => {
    expect(pstBlocks.length).toBeGreaterThanOrEqual(4);
    for (const block of pstBlocks) parseClean(block);
  });

  it('builds the PST-T example: declarations, members, comments and spans', () => {
    const text = pstBlocks[0]!;
    const program = parseClean(text);
    expect(program.decls.map((d) => d.kind)).toEqual(['import', 'model']);
    const [imp, model] = program.decls as [A.ImportDecl, A.ModelDecl];
    expect(imp.path.value).toBe('common/shifts.pst');
    expect(model.name.name).toBe('pst_t');
    expect(model.base).toBeUndefined();

    const summary = model.body.map((m) =>
      m.kind === 'section' ? `${m.name.name}${m.index ? ` ${m.index.value}` : ''}{${m.body.length}}` : m.kind === 'property' ? m.path.map((s) => (s.kind === 'ident' ? s.name : s.value)).join('.') : 'grid',
    );
    expect(summary).toEqual([
      'input{2}', 'embed{3}', 'attention', 'window', 'shift_windows', 'bias_frames', 'mlp_ratio', 'qkv_bias',
      'drop_path', 'patch_shift', 'channel_shift', 'shifts', 'stage 1{2}', 'stage 2{2}', 'stage 3{2}', 'stage 4{2}',
      'norm', 'head{3}',
    ]);
    const shifts = model.body[11] as A.Property;
    expect(shape(shifts.value)).toEqual({
      kind: 'call',
      callee: { kind: 'ident', name: 'alternate' },
      args: [{ kind: 'name', name: 'tcs' }, { kind: 'name', name: 'tps' }],
    });

    // Spans: 1-based lines and columns, 0-based offsets, exclusive ends.
    const stage3 = model.body[14] as A.Section;
    const line = text.split('\n').findIndex((l) => l.includes('stage 3')) + 1;
    expect(stage3.span).toMatchObject({ file: 't.pst', startLine: line, startCol: 3, endLine: line });
    expect(text.slice(stage3.span.startOffset, stage3.span.endOffset)).toBe('stage 3 { depth = 6  heads = 12 }');
    expect(stage3.index).toMatchObject({ value: 3, span: { startCol: 9, endCol: 10 } });
    const dropPath = model.body[8] as A.Property;
    expect(text.slice(dropPath.value.span.startOffset, dropPath.value.span.endOffset)).toBe('0.1');
    expect(dropPath.value).toMatchObject({ kind: 'number', value: 0.1, raw: '0.1', isInt: false });

    expect(program.comments[0]!.text).toBe('// models/pst-t.pst — PST-T as in the paper (pst-reference.md)');
    expect(program.comments[0]!.span).toMatchObject({ startLine: 1, startCol: 1, startOffset: 0 });
    expect(program.comments.length).toBe(10);
    expect(program.span).toMatchObject({ startOffset: 0, endOffset: text.length });
  });

  it('builds a patch shift grid row by row, signs as written', () => {
    const shift = parseClean(pstBlocks[1]!).decls[0] as A.ShiftDecl;
    expect(shift).toMatchObject({ kind: 'shift', shiftKind: 'patch', name: { name: 'pattern_c' } });
    const grid = shift.body[0] as A.GridBlock;
    expect(grid.rows.map((r) => r.map((c) => c.value))).toEqual([[-4, 1, 2], [-1, 0, 3], [-2, -3, 4]]);
    expect(grid.rows[0]!.map((c) => c.raw)).toEqual(['-4', '+1', '+2']);
    expect(grid.rows[1]![1]!.span).toMatchObject({ startLine: 4, startCol: 9, endCol: 10 });
    expect(shift.body.slice(1).map((m) => (m as A.Property).path[0])).toMatchObject([
      { name: 'ratio' }, { name: 'boundary' }, { name: 'shift_back' },
    ]);
  });

  it('builds sweeps: axes, variants and plain properties', () => {
    const decls = parseClean(pstBlocks.slice(3).join('\n')).decls.filter((d) => d.kind === 'sweep') as A.SweepDecl[];
    expect(decls.map((d) => [d.name.name, d.base.name])).toEqual([
      ['ratio', 'pst_t_tiny'], ['pattern_and_placement', 'pst_t_tiny'], ['placement', 'pst_t_tiny'],
    ]);
    const [ratio, grid, placement] = decls as [A.SweepDecl, A.SweepDecl, A.SweepDecl];
    expect(shape(ratio.body[0])).toMatchObject({
      kind: 'axis',
      path: [{ kind: 'ident', name: 'patch_shift' }, { kind: 'ident', name: 'ratio' }],
      values: { kind: 'list', elements: [{ kind: 'binary', op: '/' }, { kind: 'binary', op: '/' }, { kind: 'number', raw: '1' }] },
    });
    expect(grid.body.map((m) => m.kind)).toEqual(['property', 'axis', 'axis']);
    expect(shape(grid.body[0])).toMatchObject({ path: [{ name: 'mode' }], value: { kind: 'name', name: 'grid' } });
    expect(placement.body.map((m) => (m as A.VariantDecl).name.name)).toEqual(['tps_only', 'tcs_only']);
  });
});

describe('parseProgram: constructs', () => {
  it('parses imports, constants, channel shifts and extends', () => {
    const program = parseClean(`
      import "a/b.pst"
      const half = 1 / 2
      channel_shift tcs { fold = 1/8  boundary = keep }
      model small extends pst_t { embed.dim = 64 }
    `);
    expect(shape(program.decls)).toEqual([
      { kind: 'import', path: { kind: 'string', value: 'a/b.pst' } },
      {
        kind: 'const',
        name: { kind: 'ident', name: 'half' },
        value: {
          kind: 'binary', op: '/',
          left: { kind: 'number', value: 1, raw: '1', isInt: true },
          right: { kind: 'number', value: 2, raw: '2', isInt: true },
        },
      },
      {
        kind: 'shift', shiftKind: 'channel', name: { kind: 'ident', name: 'tcs' },
        body: [
          { kind: 'property', path: [{ kind: 'ident', name: 'fold' }], value: { kind: 'binary', op: '/', left: { kind: 'number', value: 1, raw: '1', isInt: true }, right: { kind: 'number', value: 8, raw: '8', isInt: true } } },
          { kind: 'property', path: [{ kind: 'ident', name: 'boundary' }], value: { kind: 'name', name: 'keep' } },
        ],
      },
      {
        kind: 'model', name: { kind: 'ident', name: 'small' }, base: { kind: 'ident', name: 'pst_t' },
        body: [{ kind: 'property', path: [{ kind: 'ident', name: 'embed' }, { kind: 'ident', name: 'dim' }], value: { kind: 'number', value: 64, raw: '64', isInt: true } }],
      },
    ]);
  });

  it('parses stage paths, one-line sections and soft keywords used as names', () => {
    const body = firstModelBody('model m { stage.3.depth = 4  stage 1 { depth = 2  heads = 3 } patch_shift.ratio = 0.5 grid = from }');
    expect(shape(body)).toEqual([
      { kind: 'property', path: [{ kind: 'ident', name: 'stage' }, { kind: 'index', value: 3 }, { kind: 'ident', name: 'depth' }], value: { kind: 'number', value: 4, raw: '4', isInt: true } },
      {
        kind: 'section', name: { kind: 'ident', name: 'stage' }, index: { value: 1 },
        body: [
          { kind: 'property', path: [{ kind: 'ident', name: 'depth' }], value: { kind: 'number', value: 2, raw: '2', isInt: true } },
          { kind: 'property', path: [{ kind: 'ident', name: 'heads' }], value: { kind: 'number', value: 3, raw: '3', isInt: true } },
        ],
      },
      { kind: 'property', path: [{ kind: 'ident', name: 'patch_shift' }, { kind: 'ident', name: 'ratio' }], value: { kind: 'number', value: 0.5, raw: '0.5', isInt: false } },
      { kind: 'property', path: [{ kind: 'ident', name: 'grid' }], value: { kind: 'name', name: 'from' } },
    ]);
  });

  it('gives * and / precedence over + and -, left to right, with unary signs binding tightest', () => {
    const e = valueOf('-a * 2 + 3 / 4 - b');
    expect(shape(e)).toEqual({
      kind: 'binary', op: '-',
      left: {
        kind: 'binary', op: '+',
        left: { kind: 'binary', op: '*', left: { kind: 'unary', op: '-', operand: { kind: 'name', name: 'a' } }, right: { kind: 'number', value: 2, raw: '2', isInt: true } },
        right: { kind: 'binary', op: '/', left: { kind: 'number', value: 3, raw: '3', isInt: true }, right: { kind: 'number', value: 4, raw: '4', isInt: true } },
      },
      right: { kind: 'name', name: 'b' },
    });
    expect(e.span).toMatchObject({ startCol: 15, endCol: 33 });
  });

  it('tells parentheses from tuples, and parses lists, calls and literals', () => {
    expect(shape(valueOf('(1 + 2) * 3'))).toMatchObject({ kind: 'binary', op: '*', left: { kind: 'paren', inner: { kind: 'binary', op: '+' } } });
    expect(shape(valueOf('(2, 4, 4)'))).toMatchObject({ kind: 'tuple', elements: [{ raw: '2' }, { raw: '4' }, { raw: '4' }] });
    expect(shape(valueOf('[]'))).toEqual({ kind: 'list', elements: [] });
    expect(shape(valueOf('[tcs, tps, none]'))).toMatchObject({ kind: 'list', elements: [{ name: 'tcs' }, { name: 'tps' }, { name: 'none' }] });
    expect(shape(valueOf('all(tps)'))).toMatchObject({ kind: 'call', callee: { name: 'all' }, args: [{ kind: 'name', name: 'tps' }] });
    expect(shape(valueOf('1e-5'))).toEqual({ kind: 'number', value: 1e-5, raw: '1e-5', isInt: false });
    expect(shape(valueOf('2.5E3'))).toEqual({ kind: 'number', value: 2500, raw: '2.5E3', isInt: false });
    expect(shape(valueOf('false'))).toEqual({ kind: 'bool', value: false });
    expect(shape(valueOf('+-1'))).toMatchObject({ kind: 'unary', op: '+', operand: { kind: 'unary', op: '-' } });
  });

  it('ends grid rows at line ends and at `;`, ignoring blank lines', () => {
    const shift = parseClean('patch_shift p { grid { 0 +1; -1 0\n\n  +2 -2 } }').decls[0] as A.ShiftDecl;
    const grid = shift.body[0] as A.GridBlock;
    expect(grid.rows.map((r) => r.map((c) => c.raw))).toEqual([['0', '+1'], ['-1', '0'], ['+2', '-2']]);
    expect(parseClean('patch_shift p { grid {} }').decls[0]).toMatchObject({ body: [{ kind: 'grid', rows: [] }] });
  });

  it('accepts an empty file and a file of comments', () => {
    expect(parseClean('').decls).toEqual([]);
    const program = parseClean('// one\n  // two   \n');
    expect(program.comments.map((c) => c.text)).toEqual(['// one', '// two']);
    expect(program.comments[1]!.span).toMatchObject({ startLine: 2, startCol: 3, endCol: 9 });
  });
});

describe('parseProgram: syntax diagnostics', () => {
  const diagnose = (text: string) =>
    parseProgram(text, 'e.pst').diagnostics.map((d) => ({
      code: d.code,
      at: `${d.span!.startLine}:${d.span!.startCol}`,
      message: d.message,
      expected: d.expected,
    }));

  it('reports an unexpected token with what was expected, in words', () => {
    expect(diagnose('model m {\n  = 3\n}')).toEqual([
      { code: 'PST101', at: '2:3', message: 'unexpected `=`', expected: 'a property, a section or `}`' },
    ]);
    expect(diagnose('model m { depth = }')).toEqual([
      { code: 'PST101', at: '1:19', message: 'unexpected `}`', expected: 'a value (a number, a name, `(`, `[`, `-` or `+`)' },
    ]);
    expect(diagnose('model m { depth 2 }')).toEqual([
      { code: 'PST101', at: '1:19', message: 'unexpected `}`', expected: '`{`' },
    ]);
    expect(diagnose('stage 1 { }')[0]).toMatchObject({ code: 'PST101', at: '1:1', message: 'unexpected `stage`' });
    expect(diagnose('sweep s from m { axis x = 3 }')[0]).toMatchObject({ at: '1:27', message: 'unexpected `3`', expected: '`[`' });
  });

  it('reports the end of the file at the end of the text', () => {
    expect(diagnose('model m {\n  depth = 2\n')).toEqual([
      { code: 'PST101', at: '3:1', message: 'unexpected end of file', expected: 'a property, a section or `}`' },
    ]);
  });

  it('reports bad characters and unterminated strings as PST102', () => {
    expect(diagnose('model m { a = 1 @ b = 2 }')).toEqual([
      { code: 'PST102', at: '1:17', message: 'unexpected character `@`', expected: undefined },
    ]);
    expect(diagnose('import "shifts.pst\nmodel m { }')).toEqual([
      { code: 'PST102', at: '1:8', message: 'unterminated string', expected: 'a closing `"` on the same line' },
    ]);
  });

  it('reports bad grid cells as PST103 and keeps the good ones', () => {
    const text = 'patch_shift p {\n  grid {\n    -4 1.5 x\n    - 1, 0\n  }\n}';
    expect(diagnose(text).map((d) => `${d.code} ${d.at} ${d.message}`)).toEqual([
      'PST103 3:8 grid cell `1.5` is not an integer',
      'PST103 3:12 `x` is not a grid cell',
      'PST103 4:5 a sign in a grid must touch its integer (write `-1`, not `- 1`)',
      'PST103 4:8 grid cells are separated by spaces, not commas',
    ]);
    const grid = (parseProgram(text, 'e.pst').program.decls[0] as A.ShiftDecl).body[0] as A.GridBlock;
    expect(grid.rows.map((r) => r.map((c) => c.value))).toEqual([[-4], [1, 0]]);
  });

  it('reports three mistakes on three lines as three diagnostics, and keeps the good members', () => {
    const text = [
      'model m {',
      '  depth = = 2',
      '  heads 3',
      '  window = (1, 7, 7',
      '  mlp_ratio = 4',
      '}',
      'model n { qkv_bias = true }',
    ].join('\n');
    const { program, diagnostics } = parseProgram(text, 'e.pst');
    expect(diagnostics.map((d) => `${d.code} ${d.span!.startLine}:${d.span!.startCol}`)).toEqual([
      'PST101 2:11',
      'PST101 4:3',
      'PST101 5:3',
    ]);
    const [m, n] = program.decls as [A.ModelDecl, A.ModelDecl];
    expect(m.body.map((x) => (x as A.Property).path[0]!.kind === 'ident' && (x as A.Property & { path: [A.Ident] }).path[0].name)).toEqual(['mlp_ratio']);
    expect(n.name.name).toBe('n');
  });

  it('resynchronises at the next declaration after a broken one', () => {
    const { program, diagnostics } = parseProgram('model a { x = 1\nconst k = \nmodel b { y = 2 } } ]\nconst c = 3', 'e.pst');
    expect(diagnostics.map((d) => d.span!.startLine)).toEqual([2, 3, 3]);
    expect(program.decls.map((d) => d.kind === 'model' || d.kind === 'const' ? d.name.name : d.kind)).toEqual(['a', 'b', 'c']);
  });

  it('never throws on garbage and keeps every span inside the text', () => {
    for (const text of ['}}}', '((((', 'model', 'model m extends', 'sweep s from', '"', '= = =', 'grid { }', 'model m { stage 1 2 { } }', '\u00e9\u00e8 model', 'const x = [1, 2', 'const x = f(,)']) {
      const { diagnostics } = parseProgram(text, 'g.pst');
      expect(diagnostics.length).toBeGreaterThan(0);
      for (const d of diagnostics) {
        expect(d.span!.startOffset).toBeGreaterThanOrEqual(0);
        expect(d.span!.endOffset).toBeLessThanOrEqual(text.length);
      }
    }
  });
});
