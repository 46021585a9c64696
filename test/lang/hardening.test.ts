// Hostile and careless input to the front end: every case ends quickly, in bounded memory, with a
// located diagnostic — never a throw (a stack overflow), a hang or an echo of a whole file.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closestName, editDistance, escapeControls, renderDiagnostics, type Diagnostic } from '../../src/lang/diagnostics.js';
import { checkFiles } from '../../src/lang/elaborate.js';
import { numberText } from '../../src/lang/evaluate.js';
import { MAX_LOADED_FILES, MAX_SOURCE_BYTES } from '../../src/lang/load.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { MAX_NESTING, MAX_SYNTAX_ERRORS, parseProgram } from '../../src/lang/parse.js';
import { vfs } from './vfs.js';

const dir = mkdtempSync(join(tmpdir(), 'pstc-hardening-'));
const model = 'model m { embed { patch = (1, 4, 4)  dim = 8 }  stage 1 { depth = 1  heads = 1 }  head { classes = 2 } }\n';

/** checkFiles on one in-memory file; returns the codes found and how long it took. */
function check(text: string): { codes: string[]; ms: number; diagnostics: Diagnostic[] } {
  const start = performance.now();
  const result = checkFiles(['f.pst'], vfs({ 'f.pst': text }));
  return { codes: result.diagnostics.map((d) => d.code), ms: performance.now() - start, diagnostics: result.diagnostics };
}

function onDisk(name: string, content: string | Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

describe('files that are not .pst sources', () => {
  it('accepts a UTF-8 byte-order mark', () => {
    expect(check(`\ufeff${model}`).codes).toEqual([]);
    const file = onDisk('bom.pst', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(model)]));
    const result = checkFiles([file], readFromDisk);
    expect(result.diagnostics).toEqual([]);
    expect(result.models.map((m) => m.name)).toEqual(['m']);
  });

  it('refuses a device, a FIFO, a folder, a huge file and a binary file before reading them (PST204)', () => {
    const fifo = join(dir, 'fifo.pst');
    execFileSync('mkfifo', [fifo]);
    const huge = onDisk('huge.pst', `// ${'x'.repeat(MAX_SOURCE_BYTES)}\n`);
    const binary = onDisk('binary.pst', new Uint8Array([0x6d, 0, 1, 2, 0xff]));
    const latin1 = onDisk('latin1.pst', new Uint8Array([0x2f, 0x2f, 0x20, 0xe9, 0x0a]));
    for (const target of ['/dev/zero', fifo, dir, huge, binary, latin1]) {
      const importer = onDisk('importer.pst', `import "${target}"\n${model}`);
      const start = performance.now();
      const result = checkFiles([importer], readFromDisk);
      expect(performance.now() - start).toBeLessThan(5000);
      expect(result.diagnostics.map((d) => [d.code, d.span?.startLine])).toEqual([['PST204', 1]]);
      // Given directly (not imported), the diagnostic names the file instead of a span.
      const direct = checkFiles([target], readFromDisk);
      expect(direct.diagnostics.map((d) => [d.code, d.flag])).toEqual([['PST204', target]]);
    }
    expect(readFromDisk(join(dir, 'missing.pst'))).toBeUndefined();
  });

  it('refuses an import chain longer than the file limit (PST204), without a stack overflow', () => {
    const n = 2000;
    const files: Record<string, string> = {};
    for (let i = 0; i < n; i++) files[`f${i}.pst`] = `import "f${i + 1}.pst"\nconst c${i} = 1\n`;
    files[`f${n}.pst`] = model;
    const result = checkFiles(['f0.pst'], vfs(files));
    expect(result.diagnostics.map((d) => d.code)).toEqual(['PST204']);
    expect(result.diagnostics[0]!.message).toContain(`more than ${MAX_LOADED_FILES} files`);
  });

  it('shows a short excerpt of an imported file that is not .pst, not the whole file', () => {
    const passwd = Array.from({ length: 500 }, (_, i) => `user${i}:x:${i}:${i}:User ${i}:/home/u${i}:/bin/sh`).join('\n');
    const importer = onDisk('imports-passwd.pst', `import "passwd"\n${model}`);
    onDisk('passwd', passwd);
    const result = checkFiles([importer], readFromDisk);
    const syntax = result.diagnostics.filter((d) => d.span?.file.endsWith('passwd'));
    expect(syntax.length).toBe(MAX_SYNTAX_ERRORS + 1);
    expect(syntax[MAX_SYNTAX_ERRORS]!.severity).toBe('note');
    const text = renderDiagnostics(result.diagnostics, { sources: result.sources });
    expect(text).not.toContain('user400');
    expect(text.length).toBeLessThan(10_000);
  });
});

describe('nesting', () => {
  it('300 parentheses, 3,000 signs and a 20,000-term sum are diagnostics, not stack overflows', () => {
    const cases: [string, string][] = [
      [`const a = ${'('.repeat(300)}1${')'.repeat(300)}\n`, 'PST104'],
      [`const a = ${'-'.repeat(3000)}1\n`, 'PST104'],
      [`const a = ${'- ('.repeat(200)}1${')'.repeat(200)}\n`, 'PST104'],
      [`const a = ${'['.repeat(5000)}\n`, 'PST104'],
      [`const a = ${Array(20000).fill('1').join(' + ')}\n`, 'PST104'],
      [`const a = ${Array(20000).fill('2').join(' * ')}\n`, 'PST104'],
      [`model m { ${'s { '.repeat(1000)} }\n`, 'PST104'],
    ];
    for (const [text, code] of cases) {
      const { codes, ms, diagnostics } = check(text);
      expect(codes).toContain(code);
      expect(diagnostics[0]!.span).toBeDefined();
      expect(ms).toBeLessThan(10_000);
    }
  });

  it('nesting within the limit still parses and evaluates', () => {
    const depth = MAX_NESTING - 4;
    const { codes } = check(`const a = ${'('.repeat(depth)}2${')'.repeat(depth)}\nconst b = ${Array(200).fill('1').join(' + ')}\n${model}`);
    expect(codes).toEqual([]);
  });

  it('a 5,000-long forward chain of constants is a diagnostic (PST216), not a stack overflow', () => {
    const n = 5000;
    const chain = Array.from({ length: n }, (_, i) => `const a${i} = a${i + 1}`).join('\n');
    const { codes, ms } = check(`${chain}\nconst a${n} = 1\n`);
    expect(codes.length).toBeGreaterThan(0);
    expect(new Set(codes)).toEqual(new Set(['PST216']));
    expect(ms).toBeLessThan(10_000);
  });

  it('a 2,000-long `extends` chain declared root last is a diagnostic (PST216)', () => {
    const n = 2000;
    const chain = Array.from({ length: n }, (_, i) => `model m${i} extends m${i + 1} { }`).join('\n');
    const { codes } = check(`${chain}\n${model.replace('model m ', `model m${n} `)}`);
    expect(new Set(codes)).toEqual(new Set(['PST216']));
  });

  it('any mix of brackets and signs, however deep, parses without throwing', () => {
    const token = fc.constantFrom('(', ')', '[', ']', '{', '}', '-', '+', '1', ',', 'x');
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 600 }), fc.integer({ min: 0, max: 400 }), (tokens, deep) => {
        const text = `const a = ${'('.repeat(deep)}${tokens.join(' ')}\n`;
        const { diagnostics } = parseProgram(text, 'f.pst');
        for (const d of diagnostics) expect(d.span!.endOffset).toBeLessThanOrEqual(text.length);
        if (deep > MAX_NESTING) expect(diagnostics.map((d) => d.code)).toContain('PST104');
      }),
      { numRuns: 60 },
    );
  });
});

describe('"did you mean" and rendering stay linear', () => {
  it('a 20,000-character unknown name gets no hint, quickly', () => {
    const long = 'a'.repeat(20000);
    const start = performance.now();
    expect(closestName(`${long}b`, [long, 'heads'])).toBeUndefined();
    const { codes } = check(`const ${long} = 1\nconst b = ${long.slice(1)}b + 1\n`);
    expect(codes).toEqual(['PST211']);
    expect(performance.now() - start).toBeLessThan(3000);
  });

  it('thousands of unknown names among thousands of constants: hints for the first ones only, quickly', () => {
    const n = 3000;
    const consts = Array.from({ length: n }, (_, i) => `const c${String(i).padStart(4, '0')} = 1`);
    const uses = Array.from({ length: n }, (_, i) => `const e${String(i).padStart(4, '0')} = d${String(i).padStart(4, '0')} + 1`);
    const { diagnostics, ms } = check(`${consts.join('\n')}\n${uses.join('\n')}\n`);
    expect(diagnostics).toHaveLength(n);
    expect(diagnostics[0]!.hint).toBe('did you mean `c0000`?');
    expect(diagnostics.filter((d) => d.hint).length).toBeLessThanOrEqual(100);
    expect(ms).toBeLessThan(10_000);
  });

  it('the banded distance agrees with the full one wherever it is within the band', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd'), maxLength: 12 });
    fc.assert(
      fc.property(word, word, fc.integer({ min: 0, max: 6 }), (a, b, max) => {
        const full = editDistance(a, b);
        expect(editDistance(a, b, max)).toBe(Math.min(full, max + 1));
      }),
      { numRuns: 500 },
    );
    expect(closestName('haeds', ['heads', 'dim'])).toBe('heads');
    expect(closestName('widht', ['window', 'width'])).toBe('width');
  });

  it('renders 20,000 diagnostics in linear time, printing the first 100 and how many more', () => {
    const text = Array.from({ length: 20000 }, (_, i) => `const c${i} = nope${i}`).join('\n');
    const sources = new Map([['f.pst', text]]);
    const ds: Diagnostic[] = Array.from({ length: 20000 }, (_, i) => ({
      code: 'PST211',
      severity: 'error',
      message: `unknown name \`nope${i}\``,
      span: { file: 'f.pst', startLine: i + 1, startCol: 12, endLine: i + 1, endCol: 16, startOffset: 0, endOffset: 0 },
    }));
    const start = performance.now();
    const out = renderDiagnostics(ds, { sources });
    expect(performance.now() - start).toBeLessThan(3000);
    expect(out.match(/error PST211/g)!.length).toBe(100);
    expect(out).toContain('19900 more not shown');
    expect(out.trimEnd().endsWith('20000 errors, 0 warnings')).toBe(true);
  });

  it('escapes control characters and clips a 200 KB line around the caret', () => {
    const line = `const a = ${'1 + '.repeat(50000)}\u001b[2J\u202ebad`;
    const at = line.indexOf('\u001b');
    const d: Diagnostic = {
      code: 'PST102',
      severity: 'error',
      message: 'unexpected character `\u001b`',
      span: { file: 'f.pst', startLine: 1, startCol: at + 1, endLine: 1, endCol: at + 2, startOffset: at, endOffset: at + 1 },
    };
    const out = renderDiagnostics([d], { sources: new Map([['f.pst', line]]) });
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u202e]/);
    expect(out).toContain('\\x1b[2J');
    for (const l of out.split('\n')) expect(l.length).toBeLessThan(200);
    // The caret sits under the escaped character.
    const [, source, caret] = out.split('\n');
    expect(source!.indexOf('\\x1b')).toBe(caret!.indexOf('^'));
    expect(escapeControls('a\tb\nc\u2028')).toBe('a\tb\\x0ac\\u2028');
  });

  it('clips a huge name in a message', () => {
    const { diagnostics } = check(`${model}const x = ${'q'.repeat(100000)} + 1\n`);
    const out = renderDiagnostics(diagnostics, { sources: new Map() });
    expect(out.length).toBeLessThan(1000);
    expect(out).toMatch(/\(10000\d characters\)/);
  });
});

describe('messages', () => {
  it('an integer beyond 2^53 is shown in exponent notation, not with made-up digits', () => {
    expect(numberText(2 ** 60)).toBe('1.152921504606847e+18');
    expect(numberText(96)).toBe('96');
    const { diagnostics } = check(model.replace('heads = 1', 'heads = 1152921504606846976'));
    expect(diagnostics.map((d) => d.message).join('\n')).toContain('1.152921504606847e+18');
    expect(diagnostics.map((d) => d.message).join('\n')).not.toContain('1152921504606847000');
  });

  it('an empty grid says so', () => {
    const { diagnostics } = check('patch_shift p { grid { } }\n');
    const grid = diagnostics.find((d) => d.code === 'PST252' || d.code === 'PST258');
    expect(grid?.message).toMatch(/empty|no grid/);
    expect(diagnostics.map((d) => d.message).join('\n')).not.toContain('of  entries');
  });
});
