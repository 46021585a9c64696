// An in-memory file system for checkFiles' readFile parameter, with models/common/shifts.pst
// from the repository available as `common/shifts.pst` (and `models/common/shifts.pst`).
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const shiftsText = readFileSync(path.join(process.cwd(), 'models/common/shifts.pst'), 'utf8');

export function vfs(files: Record<string, string>): (file: string) => string | undefined {
  const all: Record<string, string> = { 'common/shifts.pst': shiftsText, ...files };
  return (file) => all[path.normalize(file)];
}

/** The first ```pst block of docs/language.md: the PST-T example. */
export function languageExample(): string {
  const doc = readFileSync(path.join(process.cwd(), 'docs/language.md'), 'utf8');
  const match = /```pst\n([\s\S]*?)```/.exec(doc);
  if (!match) throw new Error('docs/language.md has no pst example');
  return match[1]!;
}
