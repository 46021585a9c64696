import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/weights/atomic.js';
import { readNpy, writeNpy } from '../../src/weights/npy.js';
import { FormatError } from '../../src/weights/tensor.js';
import { asFloat32, fixture, manifest } from './fixtures.js';

describe('.npy', () => {
  it('round-trips float32 arrays of any rank, with a 64-byte aligned header', () => {
    for (const shape of [[], [5], [2, 3, 4], [0, 3]]) {
      const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i * 0.5 - 3);
      const bytes = writeNpy(shape, data);
      expect((new DataView(bytes.buffer).getUint16(8, true) + 10) % 64).toBe(0);
      expect(readNpy(bytes)).toEqual({ shape, data });
    }
  });

  it('reads files NumPy wrote, float64 converted', () => {
    for (const key of ['f32', 'f64'] as const) {
      const got = readNpy(fixture(`${key}.npy`));
      expect(got.shape).toEqual(manifest.npy[key].shape);
      expect(got.data).toEqual(asFloat32(manifest.npy[key].values));
    }
  });

  it('refuses Fortran order, other dtypes and truncated data with clear errors', () => {
    expect(() => readNpy(fixture('fortran.npy'))).toThrow(/Fortran order/);
    expect(() => readNpy(fixture('int32.npy'))).toThrow(/dtype '<i4' is not supported/);
    const bytes = fixture('f32.npy');
    expect(() => readNpy(bytes.subarray(0, bytes.length - 4))).toThrow(FormatError);
    expect(() => readNpy(new Uint8Array(20))).toThrow(/not a .npy file/);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the file whole and leaves no temporary file behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pstc-atomic-'));
    const path = join(dir, 'out.npy');
    writeFileAtomic(path, 'first');
    writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toEqual(['out.npy']);
    expect(() => writeFileAtomic(join(dir, 'missing', 'x'), 'y')).toThrow();
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });
});
