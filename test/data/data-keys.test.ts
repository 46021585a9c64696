// One table of data settings (src/lang/data-keys.ts) for both readers: the `.pst` `data { … }`
// section and the `--data rawframes:…/videos:…` spec. Each value below is given to both; they
// must agree on it (accept or refuse), and what both accept must read as the same options. A rule
// changed in one reader and not the other fails here.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openData, type DataInput } from '../../src/data/index.js';
import { dataSpecOfSection } from '../../src/data/section-spec.js';
import { parseDataSpec, type VideoListSpec } from '../../src/data/spec.js';
import { DATA_KEYS } from '../../src/lang/data-config.js';
import { DATA_SETTING_KEYS, isDataValue, SECTION_DATA_KEYS, SPEC_DATA_KEYS, type DataKeySpec } from '../../src/lang/data-keys.js';
import { DiagnosticError, type Diagnostic } from '../../src/lang/diagnostics.js';
import { checkFiles } from '../../src/lang/elaborate.js';
import { vfs } from '../lang/vfs.js';

const base = `
model tiny {
  input { frames = 8  size = 32 }
  embed { patch = (2, 4, 4)  dim = 16 }
  window = (1, 3, 3)
  stage 1 { depth = 2  heads = 2 }
  head { classes = 10 }
}
`;

/** The section's verdict on `key = text`: its errors, and the spec it stands for. */
function section(key: string, text: string): { errors: Diagnostic[]; spec?: VideoListSpec } {
  const r = checkFiles(['/a.pst'], vfs({ '/a.pst': `${base}model m extends tiny { data { format = rawframes  train = "t.txt"  ${key} = ${text} } }` }));
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  const data = r.models.find((m) => m.name === 'm')?.data;
  if (errors.length || !data) return { errors };
  const spec = dataSpecOfSection(data, 'train');
  if (typeof spec === 'string') throw new Error(spec);
  return { errors, spec };
}

/** The spec's verdict on `key=text`. */
function flag(key: string, text: string): { error?: Diagnostic; spec?: VideoListSpec } {
  try {
    return { spec: parseDataSpec(`rawframes:/t.txt,${key}=${text}`) as VideoListSpec };
  } catch (e) {
    if (!(e instanceof DiagnosticError)) throw e;
    return { error: e.diagnostics[0]! };
  }
}

type Candidate = [section: string, spec: string];

/** Values at and just beyond each key's bounds, in both syntaxes. */
function candidates(k: DataKeySpec): Candidate[] {
  const same = (xs: (number | string)[]): Candidate[] => xs.map((x) => [String(x), String(x)]);
  switch (k.kind) {
    case 'int':
    case 'number': {
      const lo = k.range?.min ?? k.range?.above ?? 0;
      const hi = k.range?.max ?? k.range?.below;
      const xs = [lo - 1, lo, lo + 0.5, lo + 1, ...(hi === undefined ? [1e12] : [hi - 1, hi, hi + 0.5, hi + 1]), ...(k.choices ?? []).flatMap((c) => [c - 1, c, c + 1])];
      return same([...new Set(xs)]);
    }
    case 'range':
      return [
        [0.08, 1], [0.5, 0.5], [0, 1], [-1, 1], [0.5, 1.5], [1, 0.5], [0.75, 1.3333], [1, 100], [2, 1],
      ].map(([lo, hi]) => [`(${lo}, ${hi})`, `${lo}:${hi}`]);
    case 'channels':
      return [[1, 2, 3], [-5, 0, 300], [1, 0, 1], [1, -1, 1], [0.5, 0.5, 0.5]].map((c) => [`(${c.join(', ')})`, c.join(':')]);
    case 'pairs':
      return [[[1, 2]], [[1, 2], [5, 4]], [[3, 3]], [[1, 2], [2, 3]], [[0, 9]]].map((ps) => [`[${ps.map(([a, b]) => `(${a}, ${b})`).join(', ')}]`, ps.map(([a, b]) => `${a}:${b}`).join('/')]);
    case 'word':
      return [...(k.words ?? []), 'random'].map((w) => [w, w]);
    case 'template':
      return ['{:05d}.jpg', 'img_{}.png', `{:0${16}d}.jpg`, `{:0${17}d}.jpg`, 'a/{:05d}.jpg', 'x'.repeat(300), ''].map((t) => [JSON.stringify(t), t]);
    case 'path':
      return [['"x.txt"', 'x.txt'], ['""', '']];
    case 'flag':
      return [];
  }
}

describe('one table of data settings for the section and the --data spec', () => {
  it('the section takes the table\'s section keys, the spec its spec keys; nothing else', () => {
    expect(DATA_KEYS).toEqual(SECTION_DATA_KEYS);
    expect(new Set(DATA_SETTING_KEYS.map((k) => k.key)).size).toBe(DATA_SETTING_KEYS.length);
    for (const k of DATA_SETTING_KEYS) {
      const [text, specText] = candidates(k)[0] ?? ['1', '1'];
      const inSpec = flag(k.key, specText);
      // Section-only keys are the spec's kind (format) and list (train), and preset: not options.
      expect((inSpec.error?.message ?? '').includes('unknown option'), k.key).toBe(k.in === 'section');
      expect(SPEC_DATA_KEYS.includes(k.key), k.key).toBe(k.in !== 'section');
      const inSection = section(k.key, text);
      expect(inSection.errors.some((d) => d.code === 'PST212'), k.key).toBe(k.in === 'spec');
    }
    // The spec's switches, written in a section, say where they belong.
    const outside = section('outside', '1').errors[0]!;
    expect(outside.code).toBe('PST212');
    expect(outside.hint).toContain('--data');
    // A key neither knows is refused by both.
    expect(flag('clip_len', '8').error?.message).toContain('unknown option `clip_len`');
    expect(section('clip_len', '8').errors[0]?.code).toBe('PST212');
  });

  const shared = DATA_SETTING_KEYS.filter((k) => k.in === 'both');
  it.each(shared.map((k) => [k.key, k] as const))('%s: every value one accepts the other accepts, as the same option', (key, k) => {
    for (const [text, specText] of candidates(k)) {
      const a = section(key, text);
      const b = flag(key, specText);
      const accepted = [a.errors.length === 0, b.error === undefined];
      expect(accepted[0], `${key} = ${text} (section: ${a.errors[0]?.message}) / ${key}=${specText} (spec: ${b.error?.message})`).toBe(accepted[1]);
      if (k.kind === 'int' || k.kind === 'number') expect(accepted[0], `${key} = ${text} against the table`).toBe(isDataValue(k, Number(specText)));
      // Paths: the section resolves them against its file; the rest must read as the same option.
      if (a.spec && b.spec && k.kind !== 'path') expect(a.spec.options, `${key} = ${text}`).toEqual(b.spec.options);
    }
  });

  it('seed is 0 … 2³²−1 in both; -1 and 4294967296 are refused by both, naming the range', () => {
    for (const seed of ['0', '4294967295']) {
      expect(section('seed', seed).spec?.options.seed).toBe(Number(seed));
      expect(flag('seed', seed).spec?.options.seed).toBe(Number(seed));
    }
    for (const seed of ['-1', '4294967296']) {
      const [inSection] = section('seed', seed).errors;
      expect(inSection?.code).toBe('PST222');
      expect(inSection?.message).toBe(`seed = ${seed} is out of range: expected an integer 0 … 4294967295`);
      const inSpec = flag('seed', seed).error;
      expect(inSpec?.code).toBe('PST601');
      expect(inSpec?.message).toBe(`\`rawframes:/t.txt,seed=${seed}\`: \`seed=${seed}\` is not an integer 0 … 4294967295`);
    }
  });

  const dir = mkdtempSync(join(tmpdir(), 'pstc-data-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('a flip pair beyond the head\'s classes: the section refuses it when checked, the spec when opened for the model', async () => {
    expect(section('flip_map', '[(3, 10)]').errors[0]?.message).toContain('the head scores 10 classes');
    const list = join(dir, 'list.txt');
    writeFileSync(list, 'clip_00000 8 0\n');
    const input: DataInput = { frames: 8, size: 32, channels: 3, classes: 10, temporalPatch: 2 };
    const e = (await openData(`rawframes:${list},root=${dir},flip_map=3:10`, input).catch((x: unknown) => x)) as DiagnosticError;
    expect(e).toBeInstanceOf(DiagnosticError);
    expect(e.diagnostics[0]!.message).toContain('flip_map names class 10, but the model\'s head scores 10 classes');
    await expect(openData(`rawframes:${list},root=${dir},flip_map=3:9`, input)).resolves.toBeDefined();
  });

  it('docs/data.md lists exactly the spec\'s keys', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'data.md'), 'utf8');
    const table = doc.slice(doc.indexOf('## `rawframes:'), doc.indexOf('## Worker threads'));
    const listed = [...table.matchAll(/^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|/gm)].flatMap((m) => m[1]!.split(', ').map((k) => k.replace(/`/g, '')));
    expect(listed.filter((k) => k !== 'key').sort()).toEqual([...SPEC_DATA_KEYS].sort());
  });
});
