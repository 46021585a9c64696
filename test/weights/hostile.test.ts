// Hostile and careless weight files: each class ends quickly, in bounded memory, with a --weights
// (or --input) diagnostic — never an internal error, a hang, or a tensor read before it is known
// to be needed. Files are built here; tests/weights/fixtures.ts has the real PyTorch ones.
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DiagnosticError, type Diagnostic } from '../../src/lang/diagnostics.js';
import { initWeights } from '../../src/weights/init.js';
import { loadCheckpoint, loadCheckpointFrom } from '../../src/weights/load.js';
import { readNpyFile } from '../../src/weights/file-source.js';
import { nonFiniteReport, readNpy, writeNpy } from '../../src/weights/npy.js';
import { unpickle } from '../../src/weights/pickle.js';
import { indexPth, readPth } from '../../src/weights/pth.js';
import { readSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';
import { bytesSource } from '../../src/weights/source.js';
import { FormatError } from '../../src/weights/tensor.js';
import { fixture } from './fixtures.js';
import { tinyPst } from './models.js';
import { PickleWriter, pthArchive, statePth, zipEntries } from './pth-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'pstc-hostile-'));
const model = tinyPst(5);
const weights = initWeights(model, 1);

/** The diagnostics a load produces; anything but a DiagnosticError fails the test. */
function diagnosticsOf(f: () => unknown): Diagnostic[] {
  try {
    f();
  } catch (e) {
    if (e instanceof DiagnosticError) return e.diagnostics;
    throw e;
  }
  throw new Error('expected a DiagnosticError');
}

const load = (bytes: Uint8Array) => diagnosticsOf(() => loadCheckpointFrom(bytesSource(bytes), model, 'w'));
const oneError = (bytes: Uint8Array, code: string, message: RegExp) => {
  const ds = load(bytes);
  expect(ds.map((d) => d.code)).toEqual([code]);
  expect(ds[0]!.flag).toBe('--weights');
  expect(ds[0]!.message).toMatch(message);
};

/** A safetensors file from a header object and a data length (the bytes are zeros). */
function safetensors(header: Record<string, unknown>, dataLength: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('files that are not regular files, or far too large', () => {
  it('refuses /dev/zero, a FIFO and a directory at once, for --weights and for a clip', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const path of ['/dev/zero', fifo, dir]) {
      const [d] = diagnosticsOf(() => loadCheckpoint(path, model));
      expect(d).toMatchObject({ code: 'PST404', flag: '--weights' });
      expect(d!.message).toMatch(/not a regular file/);
      expect(() => readNpyFile(path)).toThrow(/not a regular file/);
    }
  });

  it('reads only what it needs of a 10 GB (sparse) file', () => {
    // A valid header for a model's worth of tensors, followed by a 10 GB hole: refused from the header alone.
    const good = writeSafetensors(weights);
    const path = join(dir, 'huge.safetensors');
    const fd = openSync(path, 'w');
    writeSync(fd, good);
    ftruncateSync(fd, 10 * 2 ** 30);
    closeSync(fd);
    const [d] = diagnosticsOf(() => loadCheckpoint(path, model));
    expect(d!.message).toMatch(/bytes after the last tensor belong to no tensor/);
  });
});

describe('safetensors', () => {
  it('refuses overlapping, gapped, out-of-range and mis-sized data_offsets, as the format does', () => {
    const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
    expect(() => readSafetensors(safetensors({ a: f32([4], 0, 16), b: f32([2], 8, 16) }, 16))).toThrow(/`b` \(bytes 8–16\) overlaps `a`|overlaps/);
    expect(() => readSafetensors(safetensors({ a: f32([2], 0, 8), b: f32([2], 12, 20) }, 20))).toThrow(/bytes 8–12 of the data belong to no tensor/);
    expect(() => readSafetensors(safetensors({ a: f32([4], 0, 16) }, 8))).toThrow(/lies past the end of the file/);
    expect(() => readSafetensors(safetensors({ a: f32([4], 0, 12) }, 12))).toThrow(/stores 12 bytes for shape \[4\] of F32 \(16 expected\)/);
    expect(() => readSafetensors(safetensors({ a: f32([4], 16, 0) }, 16))).toThrow(/begin ≤ end/);
  });

  it('prints huge sizes exactly (2^60 is 1152921504606846976)', () => {
    const header = { a: { dtype: 'F32', shape: [2 ** 30, 2 ** 30], data_offsets: [0, 4] } };
    expect(() => readSafetensors(safetensors(header, 4))).toThrow(/\(4611686018427387904 expected\)/);
    const beyond = { a: { dtype: 'F32', shape: [2 ** 60], data_offsets: [0, 4] } };
    expect(() => readSafetensors(safetensors(beyond, 4))).toThrow(/dimension 1152921504606846976 \(beyond 2\^53\)/);
  });

  it('refuses a million-character name, and a header larger than the model can need, before parsing it', () => {
    const long = 'x'.repeat(1_000_000);
    expect(() => readSafetensors(safetensors({ [long]: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 4))).toThrow(
      /1000000 characters long/,
    );
    oneError(safetensors({ [long]: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 4), 'PST404', /header is \d+ bytes; pstc reads at most/);
  });

  it('checks names and shapes against the model before reading any tensor', () => {
    // A wrong-shaped weight whose bytes are not even there: PST403, not "truncated".
    const bad = new Map(weights);
    bad.set('norm.weight', { shape: [3, 4], data: new Float32Array(12) });
    const ds = load(writeSafetensors(bad));
    expect(ds.map((d) => d.code)).toEqual(['PST403']);
  });
});

describe('.pth', () => {
  const fc1 = 'layers.0.blocks.0.mlp.fc1.weight';
  const [rows, cols] = weights.get(fc1)!.shape as [number, number];

  it('refuses negative strides, out-of-bounds offsets and strides, before reading any storage', () => {
    oneError(statePth(weights, { [fc1]: { stride: [-cols, 1], offset: rows * cols - cols } }), 'PST404', /stride is -\d+, not a non-negative integer/);
    oneError(statePth(weights, { [fc1]: { offset: 1 } }), 'PST404', /reads element \d+ of a storage of \d+/);
    oneError(statePth(weights, { [fc1]: { stride: [cols + 1, 1] } }), 'PST404', /reads element/);
    oneError(statePth(weights, { [fc1]: { offset: 2 ** 31 - 1 } }), 'PST404', /reads element 2147483\d+ of a storage/);
  });

  it('refuses a stride-0 (expanded) view of the model\'s shape, and never materialises one of another shape', () => {
    oneError(statePth(weights, { [fc1]: { stride: [0, 0], storageSize: 1 } }), 'PST404', /expanded, stride-0 view/);
    // A billion-element stride-0 tensor the model does not have: PST402 from the header, nothing gathered.
    const huge = new Map(weights);
    huge.set('extra', { shape: [1], data: new Float32Array(1) });
    const ds = load(statePth(huge, { extra: { size: [1_000_000_000], stride: [0] } }));
    expect(ds.map((d) => d.code)).toEqual(['PST402']);
    expect(ds[0]!.message).toContain('`extra` [1000000000]');
  });

  it('refuses a decompression bomb by its declared size, and an entry that inflates to more than it declares', () => {
    // A storage that declares 2^31 elements: more than the model can need; never read nor inflated.
    oneError(statePth(weights, { [fc1]: { storageSize: 2 ** 31 - 1 } }), 'PST404', /storage holds 2147483647 elements.*more than this model can need/);
    // A deflated storage that says 16 bytes but inflates to a megabyte.
    const honest = pthArchive(new PickleWriter().dict([['w', (p) => p.tensor({ key: '0', storageSize: 4, size: [4] })]]).stop(), {
      '0': new Float32Array(4),
    }, true);
    const pickle = new PickleWriter().dict([['w', (p) => p.tensor({ key: '0', storageSize: 4, size: [4] })]]).stop();
    const lying = zipEntries([
      { name: 'archive/data.pkl', data: pickle, method: 0, size: pickle.length },
      { name: 'archive/data/0', data: deflateRawSync(new Uint8Array(1 << 20)), method: 8, size: 16 },
    ]);
    expect(() => readPth(lying)).toThrow(/inflates to more than the 16 bytes it declares/);
    expect(readPth(honest).get('w')!.data).toEqual(new Float32Array(4));
  });

  it('refuses a pickle naming a global outside weights_only\'s allowlist, anywhere, as PST405', () => {
    const system = new PickleWriter().dict([
      ['w', (p) => p.tensor({ key: '0', storageSize: 1, size: [1] })],
      ['x', (p) => p.global('os', 'system').mark().str('echo hi').tuple().raw(0x52)],
    ]).stop();
    const [d] = load(pthArchive(system, { '0': new Float32Array(1) }));
    expect(d).toMatchObject({ code: 'PST405', flag: '--weights' });
    expect(d!.message).toMatch(/names `os\.system`.*weights_only=True/);
    // Not even a bare reference, and not a class used by NEWOBJ or the old INST/OBJ opcodes.
    expect(() => unpickle(new PickleWriter().global('builtins', 'eval').stop())).toThrow(/`builtins\.eval`/);
    expect(() => unpickle(new PickleWriter().global('numpy.core.multiarray', 'scalar').raw(0x29, 0x81).stop())).toThrow(/numpy/);
    expect(() => unpickle(new PickleWriter().mark().raw(0x69).block(new TextEncoder().encode('os\nsystem\n')).stop())).toThrow(/INST/);
    expect(() => unpickle(new PickleWriter().mark().raw(0x6f).stop())).toThrow(/OBJ/);
    // BUILD may set the state of an allowed object or a dict, not of a list.
    expect(() => unpickle(new PickleWriter().raw(0x5d, 0x7d, 0x62).stop())).toThrow(/BUILD/);
  });

  it('ends a dict that contains itself, and refuses a legacy (pre-1.6) checkpoint with the legacy hint', () => {
    // d = {}; d['model'] = d  — one BINPUT, one BINGET.
    const selfDict = new PickleWriter().raw(0x7d, 0x71, 0x00).str('model').raw(0x68, 0x00, 0x73).stop();
    oneError(pthArchive(selfDict, {}), 'PST404', /contain themselves/);
    const legacy = new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
    oneError(legacy, 'PST404', /legacy torch\.save format .*PyTorch ≥ 1\.6/);
  });

  it('stays linear on long lists, long integers and negative lengths', () => {
    const appends = new PickleWriter().raw(0x5d).mark();
    for (let i = 0; i < 300_000; i++) appends.raw(0x88);
    expect((unpickle(appends.raw(0x65).stop()) as unknown[]).length).toBe(300_000);
    const long4 = new PickleWriter().raw(0x8b, 0x00, 0x00, 0x10, 0x00).block(new Uint8Array(1 << 20)).stop();
    expect(() => unpickle(long4)).toThrow(/1048576-byte integer/);
    // BINSTRING of length -5 used to step backwards forever.
    expect(() => unpickle(new PickleWriter().raw(0x54, 0xfb, 0xff, 0xff, 0xff).stop())).toThrow(/negative length/);
    expect(() => unpickle(new PickleWriter().mark().raw(0x85).stop())).toThrow(/stack underflow/);
  });

  it('refuses a million-character tensor name', () => {
    const pickle = new PickleWriter().dict([['n'.repeat(1_000_000), (p) => p.tensor({ key: '0', storageSize: 1, size: [1] })]]).stop();
    expect(() => indexPth(pthArchive(pickle, { '0': new Float32Array(1) }))).toThrow(/1000000 characters long/);
  });

  it('still reads the real PyTorch files', () => {
    expect(readPth(fixture('mixed.pth')).size).toBeGreaterThan(5);
  });
});

describe('.npy', () => {
  /** writeNpy's header with its shape text replaced (the header keeps its length). */
  function withShape(shape: string): Uint8Array {
    const bytes = writeNpy([2, 3], new Float32Array(6));
    const text = new TextDecoder('latin1').decode(bytes.subarray(0, 128)).replace('(2, 3)', shape.padEnd(6));
    return Uint8Array.from([...text].map((c) => c.charCodeAt(0)).concat([...bytes.subarray(128)]));
  }

  it('checks the shape against the file before allocating, printing products exactly', () => {
    expect(() => readNpy(withShape('(2**60)'))).toThrow(FormatError);
    const big = writeNpy([2, 3], new Float32Array(6));
    const text = new TextDecoder('latin1').decode(big).replace("'shape': (2, 3), }", "'shape': (1073741824, 1073741824), }");
    const patched = Uint8Array.from([...text].map((c) => c.charCodeAt(0)));
    expect(() => readNpy(patched)).toThrow(/needs 4611686018427387904 \(1152921504606846976 × 4; truncated file\?\)/);
    const huge = new TextDecoder('latin1').decode(big).replace("'shape': (2, 3), }", "'shape': (1152921504606846977,),}");
    expect(() => readNpy(Uint8Array.from([...huge].map((c) => c.charCodeAt(0))))).toThrow(/dimension 1152921504606846977, beyond/);
    expect(() => readNpy(withShape('(2, 4)'))).toThrow(/data is 24 bytes; its shape \[2, 4\] needs 32/);
  });

  it('caps the header, refuses big-endian and other dtypes', () => {
    const header = new Uint8Array(12);
    header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
    new DataView(header.buffer).setUint32(8, 0xfffffff0, true);
    expect(() => readNpy(header)).toThrow(/header is 4294967280 bytes/);
    const bytes = writeNpy([2], new Float32Array(2));
    const text = new TextDecoder('latin1').decode(bytes).replace('<f4', '>f4');
    expect(() => readNpy(Uint8Array.from([...text].map((c) => c.charCodeAt(0))))).toThrow(/dtype '>f4' is not supported/);
  });

  it('counts NaN and infinite values in a clip', () => {
    expect(nonFiniteReport(new Float32Array([0, 1, -2]))).toBeUndefined();
    expect(nonFiniteReport(new Float32Array([NaN, 1, Infinity, -Infinity, NaN]))).toBe(
      'holds 2 NaN and 2 infinite values among 5; the output would be NaN',
    );
  });
});
