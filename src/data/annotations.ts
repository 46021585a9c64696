// mmaction2's annotation lists, one sample a line, fields separated by whitespace:
//   rawframes: `frame_dir total_frames label [label …]`
//   videos:    `path/to/video.mp4 label [label …]`
// Every mistake names the file and line. With skipBad a bad line is logged and left out.
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { Diagnostic } from '../lang/diagnostics.js';
import { DiagnosticError, escapeControls } from '../lang/diagnostics.js';
import { readRegularFile } from '../lang/read-file.js';
import { dataDiagnostic } from './errors.js';

export interface Annotation {
  /** The frame folder or video path as written (relative to root). */
  path: string;
  /** rawframes only: the frame count the list gives. */
  totalFrames?: number;
  /** The first label is the class; more are kept for multi-label sets. */
  labels: number[];
  /** `file:line` of this entry, for messages about the sample. */
  where: string;
}

export interface AnnotationOptions {
  kind: 'rawframes' | 'videos';
  /** Labels must be below this (the model's head); undefined: any non-negative label. */
  classes?: number;
  skipBad?: boolean;
  log?: (message: string) => void;
  /** The folder the paths are relative to (`root=`): a path that leads outside it (`../`, an
   *  absolute path, a symlink) is a bad line unless allowOutside (`outside=1`). */
  root?: string;
  allowOutside?: boolean;
}

/** The largest annotation list read (Kinetics-400's train list is ~10 MB). */
export const MAX_LIST_BYTES = 256 * 1024 * 1024;
/** Labels are class indices; above this no head has them. */
const MAX_LABEL = 2 ** 31 - 1;

export function readAnnotations(file: string, options: AnnotationOptions): Annotation[] {
  // Bounded, regular files only: /dev/zero or a FIFO given as the list is refused, not read.
  const read = readRegularFile(file, MAX_LIST_BYTES);
  if (!('bytes' in read)) {
    throw new DiagnosticError([
      dataDiagnostic('PST610', `cannot read the annotation list ${file}: ${'refused' in read ? read.refused : read.unreadable}`, {
        where: file,
        hint: options.kind === 'rawframes' ? 'a rawframe list has lines `frame_dir total_frames label`' : 'a video list has lines `path/to/video.mp4 label`',
      }),
    ]);
  }
  const text = new TextDecoder().decode(read.bytes);
  const outside = options.root !== undefined && !options.allowOutside ? outsideChecker(options.root) : undefined;
  const out: Annotation[] = [];
  const lines = text.split(/\r?\n/);
  const problems: Diagnostic[] = [];
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    const fields = line.trim().split(/\s+/).filter((f) => f !== '');
    if (fields.length === 0) return;
    const problem = checkLine(fields, options) ?? outside?.(fields[0]!);
    if (problem) {
      const d = dataDiagnostic(problem.code, `${where}: ${problem.message}`, { where, hint: problem.hint });
      if (options.skipBad) options.log?.(`skipped ${where}: ${problem.message}`);
      else problems.push(d);
      return;
    }
    const labelsFrom = options.kind === 'rawframes' ? 2 : 1;
    out.push({
      path: fields[0]!,
      ...(options.kind === 'rawframes' ? { totalFrames: Number(fields[1]) } : {}),
      labels: fields.slice(labelsFrom).map(Number),
      where,
    });
  });
  // Every bad line at once (at most 20), so a user fixes the list in one go.
  if (problems.length) throw new DiagnosticError(problems.slice(0, 20));
  if (out.length === 0) {
    throw new DiagnosticError([dataDiagnostic('PST611', `${file} lists no samples`, { where: file, hint: 'the list needs one line per sample' })]);
  }
  return out;
}

function checkLine(fields: string[], options: AnnotationOptions): { code: string; message: string; hint?: string } | undefined {
  const rawframes = options.kind === 'rawframes';
  const minimum = rawframes ? 3 : 2;
  const form = rawframes ? '`frame_dir total_frames label`' : '`path label`';
  if (fields.length < minimum) {
    return { code: 'PST611', message: `${fields.length} field${fields.length === 1 ? '' : 's'}, expected ${form}`, hint: 'paths with spaces are not supported: fields are separated by whitespace' };
  }
  if (rawframes && !/^\d+$/.test(fields[1]!)) return { code: 'PST611', message: `total_frames \`${fields[1]}\` is not a non-negative integer`, hint: `expected ${form}` };
  if (rawframes && Number(fields[1]) === 0) return { code: 'PST611', message: 'total_frames is 0: the folder has no frames to sample' };
  for (const label of fields.slice(rawframes ? 2 : 1)) {
    if (!/^\d+$/.test(label)) return { code: 'PST611', message: `label \`${label}\` is not a non-negative integer`, hint: `expected ${form}` };
    if (Number(label) > MAX_LABEL) return { code: 'PST612', message: `label ${label} is not a class number (0…${MAX_LABEL})`, hint: 'labels are class indices 0…classes−1' };
    if (options.classes !== undefined && Number(label) >= options.classes) {
      return { code: 'PST612', message: `label ${label} is outside the model's ${options.classes} classes (0…${options.classes - 1})`, hint: 'give the model as many classes as the list has (--set head.classes=N)' };
    }
  }
  return undefined;
}

/**
 * A check that a list's path stays inside `root`: as written (no `..` out of it, not absolute)
 * and on disk (a symlink on the way that leads out is followed to see where it lands).
 */
function outsideChecker(root: string): (path: string) => { code: string; message: string; hint: string } | undefined {
  const base = resolve(root);
  let realBase: string | undefined;
  const within = (from: string, to: string) => {
    const rel = relative(from, to);
    return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith('../') && !rel.startsWith('..\\'));
  };
  const hint = 'keep the samples under root=, or add outside=1 to the --data spec to read paths outside it on purpose';
  return (path) => {
    const full = resolve(base, path);
    if (!within(base, full)) return { code: 'PST617', message: `\`${escapeControls(path)}\` leads outside root= ${escapeControls(root)}`, hint };
    let real: string;
    try {
      realBase ??= realpathSync(base);
      real = realpathSync(full);
    } catch {
      return undefined; // missing: said when the sample is read
    }
    if (!within(realBase, real)) return { code: 'PST617', message: `\`${escapeControls(path)}\` is a symlink to ${escapeControls(real)}, outside root= ${escapeControls(root)}`, hint };
    return undefined;
  };
}

/** mmaction's `filename_tmpl` with Python's `{:05d}` / `{}` / `{:d}` placeholders. */
export function frameFileName(template: string, frame: number): string {
  return template.replace(/\{(?::(0?)(\d*)d)?\}/g, (_, zero: string | undefined, width: string | undefined) => {
    const text = String(frame);
    return width ? text.padStart(Number(width), zero ? '0' : ' ') : text;
  });
}
