// mmaction2's annotation lists, one sample a line, fields separated by whitespace:
//   rawframes: `frame_dir total_frames label [label …]`
//   videos:    `path/to/video.mp4 label [label …]`
// Every mistake names the file and line. With skipBad a bad line is logged and left out.
import { readFileSync } from 'node:fs';
import type { Diagnostic } from '../lang/diagnostics.js';
import { DiagnosticError } from '../lang/diagnostics.js';
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
}

export function readAnnotations(file: string, options: AnnotationOptions): Annotation[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DiagnosticError([
      dataDiagnostic('PST610', `cannot read the annotation list ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
        where: file,
        hint: options.kind === 'rawframes' ? 'a rawframe list has lines `frame_dir total_frames label`' : 'a video list has lines `path/to/video.mp4 label`',
      }),
    ]);
  }
  const out: Annotation[] = [];
  const lines = text.split(/\r?\n/);
  const problems: Diagnostic[] = [];
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    const fields = line.trim().split(/\s+/).filter((f) => f !== '');
    if (fields.length === 0) return;
    const problem = checkLine(fields, options);
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
    if (options.classes !== undefined && Number(label) >= options.classes) {
      return { code: 'PST612', message: `label ${label} is outside the model's ${options.classes} classes (0…${options.classes - 1})`, hint: 'give the model as many classes as the list has (--set head.classes=N)' };
    }
  }
  return undefined;
}

/** mmaction's `filename_tmpl` with Python's `{:05d}` / `{}` / `{:d}` placeholders. */
export function frameFileName(template: string, frame: number): string {
  return template.replace(/\{(?::(0?)(\d*)d)?\}/g, (_, zero: string | undefined, width: string | undefined) => {
    const text = String(frame);
    return width ? text.padStart(Number(width), zero ? '0' : ' ') : text;
  });
}
