// Property tests of the .npy, safetensors and .pth readers on mutated valid files (bit flips,
// byte overwrites, truncation, header and pickle edits). Whatever the bytes, a reader returns or
// throws its format error (FormatError for the readers, DiagnosticError for a checkpoint loaded
// for a model) — never anything else — and allocates at most a small multiple
// of the file's size. PSTC_FUZZ_RUNS=<n> (test/fuzz.ts) runs each property n times.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { initWeights } from '../../src/weights/init.js';
import { loadCheckpointFrom } from '../../src/weights/load.js';
import { readNpy, writeNpy } from '../../src/weights/npy.js';
import { unpickle } from '../../src/weights/pickle.js';
import { readPth } from '../../src/weights/pth.js';
import { readSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';
import { bytesSource } from '../../src/weights/source.js';
import { FormatError } from '../../src/weights/tensor.js';
import { fuzzRuns, fuzzTimeout } from '../fuzz.js';
import { fixture } from './fixtures.js';
import { makeModel } from './models.js';
import { PickleWriter, pthArchive, statePth } from './pth-builder.js';

/** New array-buffer memory one read may hold, over the file's own size. */
const MEMORY_LIMIT = 64 << 20;

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'word'; at: number; width: 2 | 4 | 8; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'text'; at: number; value: string };

/** Replacements for a number in a header's text: zero, negatives, 2^32, 2^53+1, 2^60, floats, junk. */
const NUMBER_TEXT = ['0', '1', '-1', '7', '65536', '4294967296', '9007199254740993', '1152921504606846976', '1e400', '2.5', '', 'x', '99999999999999999999999'];

/** Byte runs a pickle or a header might be edited with: opcodes that build, call, memoise and mark. */
const INTERESTING = [
  [0x28], [0x74], [0x52], [0x62], [0x81], [0x71, 0x00], [0x68, 0x00], [0x93], [0x65], [0x75], [0x73], [0x2e], [0x30], [0x32],
  [0x54, 0xfb, 0xff, 0xff, 0xff], [0x8b, 0xff, 0xff, 0xff, 0x7f], [0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x63, ...new TextEncoder().encode('os\nsystem\n')], [0x63, ...new TextEncoder().encode('torch._utils\n_rebuild_tensor_v2\n')],
  [0x4a, 0xff, 0xff, 0xff, 0xff], [0x4a, 0x00, 0x00, 0x00, 0x80], [0x69], [0x6f], [0x22], [0x7b], [0x5d], [0x2c], [0x3a],
];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({
    kind: fc.constant('word' as const),
    at: fc.nat(),
    width: fc.constantFrom(2 as const, 4 as const, 8 as const),
    value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x7fffffff, 0xffffffff, 2 ** 40, 2 ** 53 - 1),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.constantFrom(...INTERESTING) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('text' as const), at: fc.nat(), value: fc.constantFrom(...NUMBER_TEXT) }),
);

/** Applies byte-level mutations; 'text' replaces the n-th run of ASCII digits (a header number). */
function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(bytes);
  for (const m of mutations) {
    if (!b.length) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] = b[at]! ^ (1 << m.bit);
    else if (m.kind === 'set') b[at] = m.value;
    else if (m.kind === 'word') {
      for (let i = 0; i < m.width && at + i < b.length; i++) b[at + i] = Math.floor(m.value / 2 ** (8 * i)) & 0xff;
    } else if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'insert') b = concat(b.subarray(0, at), Uint8Array.from(m.bytes), b.subarray(at));
    else if (m.kind === 'delete') b = concat(b.subarray(0, at), b.subarray(at + m.length));
    else {
      const text = new TextDecoder('latin1').decode(b);
      const numbers = [...text.matchAll(/\d+/g)];
      if (!numbers.length) continue;
      const n = numbers[m.at % numbers.length]!;
      const edited = text.slice(0, n.index) + m.value + text.slice(n.index! + n[0].length);
      b = Uint8Array.from(edited, (c) => c.charCodeAt(0) & 0xff);
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Runs a read under the memory bound (the readers' own size checks bound their work); only `allowed` errors may escape it. */
function bounded(bytes: Uint8Array, allowed: new (...args: never[]) => Error, read: () => unknown): void {
  const memoryBefore = process.memoryUsage().arrayBuffers;
  let result: unknown;
  try {
    result = read();
  } catch (e) {
    if (!(e instanceof allowed)) throw e;
  }
  expect(process.memoryUsage().arrayBuffers - memoryBefore).toBeLessThan(MEMORY_LIMIT + bytes.length);
  if (result instanceof Map) {
    let elements = 0;
    for (const t of result.values()) if ((t as { data?: unknown })?.data instanceof Float32Array) elements += (t as { data: Float32Array }).data.length;
    expect(elements).toBeLessThanOrEqual(16 * bytes.length);
  }
}

const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

describe('.npy reader fuzz', () => {
  const bases = [
    writeNpy([2, 3, 4], Float32Array.from({ length: 24 }, (_, i) => i - 5.5)),
    writeNpy([], new Float32Array([1])),
    fixture('f64.npy'),
    fixture('fortran.npy'),
  ];
  it('returns or throws FormatError on mutated files, fast, with at most the file\'s values', () => {
    fc.assert(
      fc.property(fc.nat(bases.length - 1), mutations, (which, ms) => {
        const bytes = mutate(bases[which]!, ms);
        bounded(bytes, FormatError, () => {
          const { data } = readNpy(bytes);
          expect(data.length).toBeLessThanOrEqual(bytes.length / 2);
        });
      }),
      { numRuns: fuzzRuns(300) },
    );
  }, fuzzTimeout);
});

const model = makeModel({ dim: 8, depths: [1, 1], heads: [1, 2], window: [2, 2, 2], classes: 3 });
const weights = initWeights(model, 3);

describe('safetensors reader fuzz', () => {
  const bases = [writeSafetensors(weights, { format: 'pt' }), fixture('mixed.safetensors')];
  it('readSafetensors returns or throws FormatError on mutated files', () => {
    fc.assert(
      fc.property(fc.nat(bases.length - 1), mutations, (which, ms) => {
        const bytes = mutate(bases[which]!, ms);
        bounded(bytes, FormatError, () => readSafetensors(bytes, { skip: (n) => n === 'index' }));
      }),
      { numRuns: fuzzRuns(150) },
    );
  }, fuzzTimeout);

  it('loading a mutated checkpoint for a model gives weights or a DiagnosticError', () => {
    fc.assert(
      fc.property(mutations, (ms) => {
        const bytes = mutate(bases[0]!, ms);
        bounded(bytes, DiagnosticError, () => loadCheckpointFrom(bytesSource(bytes), model, 'fuzz.safetensors'));
      }),
      { numRuns: fuzzRuns(100) },
    );
  }, fuzzTimeout);
});

describe('.pth reader fuzz', () => {
  const own = statePth(weights);
  const bases = [own, fixture('mixed.pth'), fixture('flat.pth')];
  it('readPth returns or throws FormatError on mutated archives', () => {
    fc.assert(
      fc.property(fc.nat(bases.length - 1), mutations, (which, ms) => {
        const bytes = mutate(bases[which]!, ms);
        bounded(bytes, FormatError, () => readPth(bytes));
      }),
      { numRuns: fuzzRuns(150) },
    );
  }, fuzzTimeout);

  // The pickle is where the structure is: mutate it alone, inside an otherwise valid archive.
  const storages: Record<string, Float32Array> = {};
  const entries: [string, (p: PickleWriter) => void][] = [];
  [...weights].forEach(([name, t], i) => {
    storages[String(i)] = t.data;
    entries.push([name, (p) => p.tensor({ key: String(i), storageSize: t.data.length, size: t.shape })]);
  });
  const pickle = new PickleWriter().dict(entries).stop();

  it('loading a checkpoint with a mutated pickle for a model gives weights or a DiagnosticError', () => {
    fc.assert(
      fc.property(mutations, (ms) => {
        const bytes = pthArchive(mutate(pickle, ms), storages);
        bounded(bytes, DiagnosticError, () => loadCheckpointFrom(bytesSource(bytes), model, 'fuzz.pth'));
      }),
      { numRuns: fuzzRuns(100) },
    );
  }, fuzzTimeout);

  // Plain containers, shared (memoised) objects, big integers, bytes: what metadata holds.
  const plain = new PickleWriter()
    .dict([
      ['list', (p) => p.raw(0x5d, 0x71, 0x01).mark().int(1).int(-2).raw(0x8a, 0x09, ...new Array<number>(8).fill(0), 0x40).raw(0x65)],
      ['tuple', (p) => p.mark().str('é').raw(0x4e, 0x88, 0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0).tuple()],
      ['shared', (p) => p.raw(0x68, 0x01)],
      ['ordered', (p) => p.global('collections', 'OrderedDict').raw(0x29, 0x52).raw(0x7d, 0x62)],
      ['bytes', (p) => p.global('_codecs', 'encode').mark().str('xy').str('latin1').tuple().raw(0x52)],
    ])
    .stop();

  it('the pickle machine alone returns or throws FormatError on mutated pickles', () => {
    expect((unpickle(plain) as Map<string, unknown>).get('shared')).toEqual([1, -2, 2n ** 70n]);
    fc.assert(
      fc.property(fc.boolean(), mutations, (torch, ms) => {
        const bytes = mutate(torch ? pickle : plain, ms);
        bounded(bytes, FormatError, () => unpickle(bytes));
      }),
      { numRuns: fuzzRuns(300) },
    );
  }, fuzzTimeout);
});
