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

/** Closest candidate by edit distance, for "did you mean" hints; undefined when none is close. */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  const allowed = Math.max(1, Math.floor(name.length / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of
 *  neighbours each cost 1, so `haeds` is one edit from `heads`. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

export interface RenderOptions {
  color?: boolean;
  /** Source text by file name, for the line-and-caret excerpt. */
  sources?: ReadonlyMap<string, string>;
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
  const c = options.color ? pc : pc.createColors(false);
  const sevColor = d.severity === 'error' ? c.red : d.severity === 'warning' ? c.yellow : c.cyan;
  const where = d.span
    ? `${d.span.file}:${d.span.startLine}:${d.span.startCol}: `
    : d.flag
      ? `${d.flag}: `
      : '';
  const lines = [`${c.bold(where)}${sevColor(c.bold(d.severity))} ${c.dim(d.code)}: ${c.bold(d.message)}`];
  const text = d.span ? options.sources?.get(d.span.file) : undefined;
  if (d.span && text !== undefined) {
    const sourceLine = text.split(/\r?\n/)[d.span.startLine - 1];
    if (sourceLine !== undefined) {
      const gutter = String(d.span.startLine);
      const pad = ' '.repeat(gutter.length);
      const endCol = d.span.endLine === d.span.startLine ? d.span.endCol : sourceLine.length + 1;
      const width = Math.max(1, endCol - d.span.startCol);
      const caretPrefix = sourceLine.slice(0, d.span.startCol - 1).replace(/[^\t]/g, ' ');
      lines.push(`${c.dim(`${gutter} |`)} ${sourceLine}`);
      lines.push(`${c.dim(`${pad} |`)} ${caretPrefix}${sevColor('^'.repeat(width))}`);
    }
  }
  if (d.expected) lines.push(`  = expected: ${d.expected}`);
  if (d.hint) lines.push(`  = hint: ${d.hint}`);
  return lines.join('\n');
}

export function renderDiagnostics(ds: readonly Diagnostic[], options: RenderOptions = {}): string {
  const sorted = sortDiagnostics(ds);
  const body = sorted.map((d) => renderDiagnostic(d, options)).join('\n\n');
  const errors = ds.filter((d) => d.severity === 'error').length;
  const warnings = ds.filter((d) => d.severity === 'warning').length;
  const summary = `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
  return ds.length ? `${body}\n\n${summary}` : summary;
}
