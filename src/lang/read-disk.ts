// The Node host's ReadFile: .pst files from disk. Kept apart from load.ts so that the language
// (which a browser page also runs, with files from memory) imports no Node module.
import { readFileSync } from 'node:fs';
import type { ReadFile } from './load.js';

export const readFromDisk: ReadFile = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // missing, a directory, unreadable: all reported as PST201 by the caller
  }
};
