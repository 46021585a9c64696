// Diagnostics are data: a stable code, a severity, a span (or the flag that was wrong), a message,
// what was expected, and a hint. The CLI renders them with the source line and a caret.
import pc from 'picocolors';
import type { Span } from './span.js';

export type Severity = 'error' | 'warning' | 'note';

export interface Diagnostic {
  /** Stable code, e.g. PST101. Listed in docs/diagnostics.md. */
  code: string;
  severity: Severity;
  message: string;
  span?: Span;
  /** For command-line mistakes: the flag that was wrong, e.g. `--frames`. */
  flag?: string;
  expected?: string;
  /** A suggestion, e.g. "did you mean `heads`?" */
  hint?: string;
}

/** Thrown by later phases for a user's mistake; the CLI prints the diagnostics, never a stack. */
export class DiagnosticError extends Error {
  constructor(public readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n'));
    this.name = 'DiagnosticError';
  }
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}

/** Sort by file, then position; diagnostics without a span come first. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => {
    const fa = a.span?.file ?? '';
    const fb = b.span?.file ?? '';
    if (fa !== fb) return fa < fb ? -1 : 1;
    return (a.span?.startOffset ?? -1) - (b.span?.startOffset ?? -1);
  });
}

/** Names longer than this get no "did you mean": a typo hint for a 20,000-character name is
 *  worth nothing, and the distance costs time in the product of the lengths. */
export const MAX_HINT_NAME_LENGTH = 64;

/** Closest candidate by edit distance, for "did you mean" hints; undefined when none is close.
 *  Linear in the candidates and in the name's length: a candidate whose length alone puts it too
 *  far is skipped, and the distance is computed only within the allowed band. */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  if (name.length > MAX_HINT_NAME_LENGTH) return undefined;
  const allowed = Math.max(1, Math.floor(name.length / 3));
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = allowed + 1;
  for (const c of candidates) {
    if (Math.abs(c.length - name.length) >= bestDistance) continue;
    const d = editDistance(lower, c.toLowerCase(), bestDistance - 1);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best;
}

let scratch = new Int32Array(768);

/** Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of
 *  neighbours each cost 1, so `haeds` is one edit from `heads`. With `max`, only the diagonal band
 *  of width 2·max+1 is filled and any distance above `max` comes back as `max + 1`: the cost is
 *  O(length · max) instead of O(length²). */
export function editDistance(a: string, b: string, max = Math.max(a.length, b.length)): number {
  const over = max + 1;
  if (Math.abs(a.length - b.length) > max) return over;
  const width = b.length + 1;
  // Three rows (i-2, i-1, i) suffice, at offsets into one scratch buffer shared by every call (a
  // hint search makes thousands of calls); cells outside the band hold `over`.
  if (scratch.length < 3 * width) scratch = new Int32Array(6 * width);
  const d = scratch;
  let prev2 = 0;
  let prev = width;
  let row = 2 * width;
  d.fill(over, 0, 3 * width);
  for (let j = 0; j <= Math.min(max, b.length); j++) d[prev + j] = j;
  for (let i = 1; i <= a.length; i++) {
    d.fill(over, row, row + width);
    const lo = Math.max(1, i - max);
    const hi = Math.min(b.length, i + max);
    if (i <= max) d[row] = i;
    let rowMin = d[row]!;
    const ai = a.charCodeAt(i - 1);
    for (let j = lo; j <= hi; j++) {
      const bj = b.charCodeAt(j - 1);
      let best = d[prev + j - 1]! + (ai === bj ? 0 : 1);
      const up = d[prev + j]! + 1;
      if (up < best) best = up;
      const left = d[row + j - 1]! + 1;
      if (left < best) best = left;
      if (i > 1 && j > 1 && ai === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === bj) {
        const swap = d[prev2 + j - 2]! + 1;
        if (swap < best) best = swap;
      }
      if (best > over) best = over;
      d[row + j] = best;
      if (best < rowMin) rowMin = best;
    }
    if (rowMin > max) return over; // every path through this row already costs too much
    const oldest = prev2;
    prev2 = prev;
    prev = row;
    row = oldest;
  }
  return Math.min(d[prev + b.length]!, over);
}

export interface RenderOptions {
  color?: boolean;
  /** Source text by file name, for the line-and-caret excerpt. */
  sources?: ReadonlyMap<string, string>;
  /** At most this many diagnostics are printed (default 100); the summary says how many more. */
  limit?: number;
}

/** Columns of source shown around the caret: a 200 KB line is clipped, not echoed. */
const EXCERPT_WIDTH = 100;
/** A word of a message longer than this (a huge name, a run of bad characters) is clipped. */
const MAX_WORD = 160;
export const DEFAULT_RENDER_LIMIT = 100;

/**
 * Text from the user's files made safe to print: control characters (which could move the
 * cursor, clear the screen or forge lines), DEL, C1 controls and bidirectional overrides are
 * line and paragraph separators are written as escapes (`\x1b`, `\u202e`); a tab stays a tab.
 */
export function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g, (ch) => {
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** A message for printing: controls escaped, and any word longer than MAX_WORD clipped with `…`. */
function printable(text: string): string {
  const clipped = text.replace(new RegExp(`\\S{${MAX_WORD + 1},}`, 'g'), (w) => `${w.slice(0, MAX_WORD - 20)}…${w.slice(-10)} (${w.length} characters)`);
  return escapeControls(clipped);
}

/** Line starts of each source file, computed once per rendering (not once per diagnostic). */
class SourceLines {
  private readonly starts = new Map<string, number[]>();

  constructor(private readonly sources: ReadonlyMap<string, string> | undefined) {}

  line(file: string, line: number): string | undefined {
    const text = this.sources?.get(file);
    if (text === undefined) return undefined;
    let starts = this.starts.get(file);
    if (!starts) {
      starts = [0];
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
      }
      this.starts.set(file, starts);
    }
    const start = starts[line - 1];
    if (start === undefined) return undefined;
    const end = line < starts.length ? starts[line]! : text.length;
    return text.slice(start, end).replace(/\r?\n$|\r$/, '');
  }
}

/**
 * Render one diagnostic the way compilers do:
 *   models/x.pst:3:11: error PST201: unknown property `haeds`
 *      3 |   stage 1 { haeds = 3 }
 *        |             ^^^^^
 *     = expected: a stage property
 *     = hint: did you mean `heads`?
 */
export function renderDiagnostic(d: Diagnostic, options: RenderOptions = {}): string {
  return renderOne(d, options, new SourceLines(options.sources));
}

function renderOne(d: Diagnostic, options: RenderOptions, sources: SourceLines): string {
  const c = options.color ? pc : pc.createColors(false);
  const sevColor = d.severity === 'error' ? c.red : d.severity === 'warning' ? c.yellow : c.cyan;
  const where = d.span
    ? `${escapeControls(d.span.file)}:${d.span.startLine}:${d.span.startCol}: `
    : d.flag
      ? `${escapeControls(d.flag)}: `
      : '';
  const lines = [`${c.bold(where)}${sevColor(c.bold(d.severity))} ${c.dim(d.code)}: ${c.bold(printable(d.message))}`];
  const sourceLine = d.span ? sources.line(d.span.file, d.span.startLine) : undefined;
  if (d.span && sourceLine !== undefined) {
    const gutter = String(d.span.startLine);
    const pad = ' '.repeat(gutter.length);
    const startCol = Math.min(d.span.startCol, sourceLine.length + 1);
    const endCol = d.span.endLine === d.span.startLine ? Math.max(startCol, d.span.endCol) : sourceLine.length + 1;
    // The excerpt: the whole line when it is short, else a window that starts a little before the caret.
    let from = 0;
    let to = sourceLine.length;
    if (sourceLine.length > EXCERPT_WIDTH) {
      from = Math.max(0, Math.min(startCol - 1 - 20, sourceLine.length - EXCERPT_WIDTH));
      to = from + EXCERPT_WIDTH;
    }
    const before = escapeControls(sourceLine.slice(from, startCol - 1));
    const marked = escapeControls(sourceLine.slice(startCol - 1, Math.min(endCol - 1, to)));
    const after = escapeControls(sourceLine.slice(Math.min(endCol - 1, to), to));
    const left = from > 0 ? '…' : '';
    const right = to < sourceLine.length ? '…' : '';
    const caretPrefix = (left + before).replace(/[^\t]/g, ' ');
    lines.push(`${c.dim(`${gutter} |`)} ${left}${before}${marked}${after}${right}`);
    lines.push(`${c.dim(`${pad} |`)} ${caretPrefix}${sevColor('^'.repeat(Math.max(1, marked.length)))}`);
  }
  if (d.expected) lines.push(`  = expected: ${printable(d.expected)}`);
  if (d.hint) lines.push(`  = hint: ${printable(d.hint)}`);
  return lines.join('\n');
}

/** Every diagnostic (up to `limit`), sorted, then one summary line; linear in their number. */
export function renderDiagnostics(ds: readonly Diagnostic[], options: RenderOptions = {}): string {
  const limit = options.limit ?? DEFAULT_RENDER_LIMIT;
  const sorted = sortDiagnostics(ds);
  const sources = new SourceLines(options.sources);
  const parts = sorted.slice(0, limit).map((d) => renderOne(d, options, sources));
  let errors = 0;
  let warnings = 0;
  for (const d of ds) {
    if (d.severity === 'error') errors++;
    else if (d.severity === 'warning') warnings++;
  }
  if (sorted.length > limit) parts.push(`… and ${sorted.length - limit} more not shown (${limit} shown; \`pstc check --json\` lists them all)`);
  const summary = `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
  return ds.length ? `${parts.join('\n\n')}\n\n${summary}` : summary;
}
