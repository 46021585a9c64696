// Clips the commands make up when the user gives none (`run --random-input`, `bench`).
import { makeRandom } from '../weights/init.js'; // not weights/index.js: that pulls in the Node file readers

/** A clip of uniform values in [-1, 1), deterministic in the seed (a stand-in for a normalised clip). */
export function randomClip(shape: readonly number[], seed: number): Float32Array {
  const random = makeRandom(seed, 'clip');
  const clip = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < clip.length; i++) clip[i] = 2 * random() - 1;
  return clip;
}
