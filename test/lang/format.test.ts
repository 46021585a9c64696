import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { memoryIO } from '../../src/cli/io.js';
import { formatSource } from '../../src/lang/format.js';
import { parseProgram } from '../../src/lang/parse.js';

const root = new URL('../../', import.meta.url).pathname;

function fmt(text: string): string {
  const { formatted, diagnostics } = formatSource(text, 't.pst');
  expect(diagnostics).toEqual([]);
  return formatted!;
}

/** What a program means: its declarations without spans, and its comments' texts in order. */
function meaning(text: string): unknown {
  const { program } = parseProgram(text, 't.pst');
  return JSON.parse(JSON.stringify({ decls: program.decls, comments: program.comments.map((c) => c.text) }, (k, v) => (k === 'span' ? undefined : v)));
}

function pstFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.pst'))
    .map((f) => path.join(dir, f));
}

const messy = `// header


import "a.pst"   // trailing import
import "b.pst"
const   k=1/8 // k
const big = ( 1 , 2,3 )
model   m extends   base{   // model comment
  a=1  bb = -x*2+3 / 4  stage 1{depth=2 heads=3}   // stage one
  // lead for c

  ccc = [ 1,2 , 3]
  stage 2 {
    depth = 2 // d
    heads = 4 }
  window = (1,  // inner
     7, 7)
  drop = 1e-5
  patch_shift.ratio = 0.50


}
patch_shift p{grid{ // g
-4 +1 +12 ; 0 0 0 // row
   -1 0 3
  // before end
}
ratio=1 }
sweep s from m { mode = grid  axis patch_shift.ratio=[1/4,1/2,1] axis stage.3.depth = [2, 4]
variant v { stage 1 { depth = 4 } } }
channel_shift c {}
// end comment`;

const messyFormatted = `// header

import "a.pst"  // trailing import
import "b.pst"

const k = 1/8  // k
const big = (1, 2, 3)

model m extends base {  // model comment
  a  = 1
  bb = -x * 2 + 3/4
  stage 1 { depth = 2  heads = 3 }  // stage one
  // lead for c

  ccc = [1, 2, 3]
  stage 2 {
    depth = 2  // d
    heads = 4
  }
  // inner
  window            = (1, 7, 7)
  drop              = 1e-5
  patch_shift.ratio = 0.50
}

patch_shift p {
  grid {  // g
    -4 +1 +12
     0  0   0  // row
    -1  0   3
    // before end
  }
  ratio = 1
}

sweep s from m {
  mode = grid
  axis patch_shift.ratio = [1/4, 1/2, 1]
  axis stage.3.depth     = [2, 4]
  variant v {
    stage 1 { depth = 4 }
  }
}

channel_shift c {}
// end comment
`;

describe('formatProgram', () => {
  it('lays out a messy file canonically', () => {
    expect(fmt(messy)).toBe(messyFormatted);
  });

  it('is idempotent and keeps the meaning of every model file and every docs example', () => {
    const docs = readFileSync(path.join(root, 'docs/language.md'), 'utf8');
    const inputs = [
      messy,
      ...[...docs.matchAll(/```pst\n([\s\S]*?)```/g)].map((m) => m[1]!),
      ...pstFiles(path.join(root, 'models')).map((f) => readFileSync(f, 'utf8')),
    ];
    expect(inputs.length).toBeGreaterThan(5);
    for (const input of inputs) {
      const once = fmt(input);
      expect(fmt(once)).toBe(once);
      expect(meaning(once)).toEqual(meaning(input));
      expect(once.endsWith('\n') && !once.endsWith('\n\n')).toBe(true);
      expect(once).not.toMatch(/[ \t]\n/);
    }
  });

  it('puts a section on one line only when it is short, flat, comment-free and narrow', () => {
    expect(fmt('model m { head { pool = mean\n dropout = 0.5\n classes = 400 } }')).toBe(
      'model m {\n  head { pool = mean  dropout = 0.5  classes = 400 }\n}\n',
    );
    expect(fmt('model m { head { a = 1  b = 2  c = 3  d = 4 } }')).toBe(
      'model m {\n  head {\n    a = 1\n    b = 2\n    c = 3\n    d = 4\n  }\n}\n',
    );
    expect(fmt('model m { head { a = 1 // why\n } }')).toBe('model m {\n  head {\n    a = 1  // why\n  }\n}\n');
    expect(fmt('model m { head {} }')).toBe('model m {\n  head {}\n}\n');
    const long = `x = [${Array.from({ length: 30 }, (_, i) => i).join(', ')}]`;
    expect(fmt(`model m { s { ${long} } }`)).toBe(`model m {\n  s {\n    ${long}\n  }\n}\n`);
  });

  it('aligns `=` in runs of properties that a blank line or a section ends', () => {
    expect(fmt('model m {\n a = 1\n long_name = 2\n\n b = 3\n cc = 4\n s { x = 1 }\n ddd = 5\n}')).toBe(
      'model m {\n  a         = 1\n  long_name = 2\n\n  b  = 3\n  cc = 4\n  s { x = 1 }\n  ddd = 5\n}\n',
    );
  });

  it('right-aligns grid columns and keeps signs and literals as written', () => {
    expect(fmt('patch_shift p { grid {\n-7 +1 +4\n+6 0 -15\n0 +8 1\n}\nratio = 0.250 }')).toBe(
      'patch_shift p {\n  grid {\n    -7 +1  +4\n    +6  0 -15\n     0 +8   1\n  }\n  ratio = 0.250\n}\n',
    );
  });

  it('aligns trailing comments of consecutive lines and moves comments inside a value above it', () => {
    expect(fmt('model m {\n a = 1 // one\n bbbbb = (1,\n // inside\n 2) // two\n}')).toBe(
      'model m {\n  a     = 1       // one\n  // inside\n  bbbbb = (1, 2)  // two\n}\n',
    );
  });

  it('refuses to format a file with syntax errors', () => {
    const { formatted, diagnostics } = formatSource('model m { a = }', 'e.pst');
    expect(formatted).toBeUndefined();
    expect(diagnostics.map((d) => d.code)).toEqual(['PST101']);
  });

  it('formats an empty file as empty, and comments-only files keep their comments', () => {
    expect(fmt('')).toBe('');
    expect(fmt('\n\n// a\n\n\n// b\n\n')).toBe('// a\n\n// b\n');
  });
});

describe('pstc fmt', () => {
  const workdir = () => mkdtempSync(path.join(tmpdir(), 'pstc-fmt-'));

  it('rewrites changed files in place and leaves formatted ones alone', async () => {
    const dir = workdir();
    const ugly = path.join(dir, 'ugly.pst');
    const tidy = path.join(dir, 'tidy.pst');
    writeFileSync(ugly, 'model m{a=1}');
    writeFileSync(tidy, 'model m {\n  a = 1\n}\n');
    const tidyTime = statSync(tidy).mtimeMs;
    const io = memoryIO();
    expect(await main(['fmt', ugly, tidy], io)).toBe(0);
    expect(readFileSync(ugly, 'utf8')).toBe('model m {\n  a = 1\n}\n');
    expect(statSync(tidy).mtimeMs).toBe(tidyTime);
    expect(io.stdout).toBe(`formatted ${ugly}\n`);
    expect(readdirSync(dir).sort()).toEqual(['tidy.pst', 'ugly.pst']);
  });

  it('--check lists the files that would change, writes nothing and exits 1', async () => {
    const dir = workdir();
    const ugly = path.join(dir, 'ugly.pst');
    writeFileSync(ugly, 'model m{a=1}');
    const io = memoryIO();
    expect(await main(['fmt', '--check', ugly], io)).toBe(1);
    expect(io.stdout).toBe(`${ugly}\n`);
    expect(readFileSync(ugly, 'utf8')).toBe('model m{a=1}');
  });

  it('prints rendered diagnostics and exits 1 on syntax errors, leaving the file', async () => {
    const dir = workdir();
    const bad = path.join(dir, 'bad.pst');
    writeFileSync(bad, 'model m {\n  a = = 1\n}\n');
    const io = memoryIO();
    expect(await main(['fmt', bad], io)).toBe(1);
    expect(io.stderr).toContain(`${bad}:2:7: error PST101: unexpected \`=\``);
    expect(io.stderr).toContain('2 |   a = = 1');
    expect(readFileSync(bad, 'utf8')).toBe('model m {\n  a = = 1\n}\n');
  });

  it('names a missing file in one line and exits 2', async () => {
    const io = memoryIO();
    const missing = path.join(workdir(), 'nope.pst');
    expect(await main(['fmt', missing], io)).toBe(2);
    expect(io.stderr).toBe(`pstc: cannot read ${missing}: no such file\n`);
  });
});

describe('formatter regressions found by the fuzz', () => {
  it('is idempotent for a comment between a section name and its brace', () => {
    const text = 'model m {\n  embed   // why\n  { dim = 1 }\n}\n';
    const once = formatSource(text, 'f.pst').formatted!;
    expect(once).toBe('model m {\n  // why\n  embed { dim = 1 }\n}\n');
    expect(formatSource(once, 'f.pst').formatted).toBe(once);
  });
});
