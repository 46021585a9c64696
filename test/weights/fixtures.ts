// The files tools/make_pth_fixtures.py wrote with real PyTorch / NumPy, and what it says they hold.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const fixtureDir = fileURLToPath(new URL('../fixtures/weights/', import.meta.url));

export function fixture(name: string): Uint8Array {
  return readFileSync(fixtureDir + name);
}

interface Expected {
  shape: number[];
  values: number[];
}

export interface Manifest {
  'mixed.pth': Record<string, Expected>;
  'flat.pth': Record<string, Expected>;
  'tiny_pst.pth': { parameters: { name: string; shape: number[]; sum: number }[]; state_dict_keys: string[] };
  'mixed.safetensors': Record<string, Expected>;
  npy: Record<'f32' | 'f64', Expected>;
}

export const manifest: Manifest = JSON.parse(readFileSync(fixtureDir + 'expected.json', 'utf8'));

/** Python's float32 values, exactly as float32. */
export function asFloat32(values: number[]): Float32Array {
  return new Float32Array(values);
}

export function sum(data: Float32Array): number {
  let s = 0;
  for (const x of data) s += x;
  return s;
}
