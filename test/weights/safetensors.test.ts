import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/weights/safetensors.js';
import { FormatError, type WeightMap } from '../../src/weights/tensor.js';
import { asFloat32, fixture, manifest } from './fixtures.js';

describe('safetensors', () => {
  it('round-trips float32 tensors, their order and metadata', () => {
    const weights: WeightMap = new Map([
      ['b', { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, -0, 1e-30]) }],
      ['a', { shape: [], data: new Float32Array([7]) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ]);
    const bytes = writeSafetensors(weights, { format: 'pt', model: 'x' });
    const back = readSafetensors(bytes);
    expect([...back.keys()]).toEqual(['b', 'a', 'empty']);
    for (const [name, t] of weights) {
      expect(back.get(name)!.shape).toEqual(t.shape);
      expect(back.get(name)!.data).toEqual(t.data);
    }
    const { metadata, dataStart } = readSafetensorsHeader(bytes);
    expect(metadata).toEqual({ format: 'pt', model: 'x' });
    expect(dataStart % 8).toBe(0);
  });

  it('reads a file with F32, F16, BF16 and F64 tensors (made from PyTorch tensors)', () => {
    const bytes = fixture('mixed.safetensors');
    const got = readSafetensors(bytes, { skip: (n) => n === 'index' });
    const want = manifest['mixed.safetensors'];
    expect([...got.keys()]).toEqual(Object.keys(want));
    for (const [name, e] of Object.entries(want)) {
      expect(got.get(name)!.shape, name).toEqual(e.shape);
      expect(got.get(name)!.data, name).toEqual(asFloat32(e.values));
    }
  });

  it('refuses an integer tensor with a clear error unless it is skipped', () => {
    expect(() => readSafetensors(fixture('mixed.safetensors'))).toThrow(/`index` has dtype I64.*F32, F16, BF16, F64/);
  });

  it('refuses truncated and malformed files with a FormatError', () => {
    const bytes = writeSafetensors(new Map([['w', { shape: [4], data: new Float32Array(4) }]]));
    expect(() => readSafetensors(bytes.subarray(0, bytes.length - 1))).toThrow(FormatError);
    expect(() => readSafetensors(new Uint8Array([1, 2, 3]))).toThrow(FormatError);
    const garbage = new Uint8Array(16);
    garbage[0] = 4;
    expect(() => readSafetensors(garbage)).toThrow(/does not start with `\{`/);
    const braces = new Uint8Array([4, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7b, 0x7d, 0x20]);
    expect(() => readSafetensors(braces)).toThrow(/not JSON/);
  });
});
