// A reporter collects diagnostics into a shared list and remembers whether the work it was made
// for (one model, one constant) failed, so that a failure is reported once and then only
// propagated: an unknown name yields one error, not one per value computed from it.
import type { Diagnostic } from './diagnostics.js';
import type { Span } from './span.js';

export interface Extra {
  expected?: string;
  hint?: string;
}

/** "Did you mean" is searched for while fewer diagnostics than this have been reported: each
 *  search scans every name in scope, and a hostile file with thousands of unknown names among
 *  thousands of constants would otherwise take minutes (only the first 100 are printed anyway). */
export const MAX_HINTED_DIAGNOSTICS = 100;

export class Reporter {
  failed = false;

  constructor(private readonly out: Diagnostic[]) {}

  error(code: string, span: Span, message: string, extra: Extra = {}): void {
    this.failed = true;
    this.out.push({ code, severity: 'error', message, span, ...clean(extra) });
  }

  warning(code: string, span: Span, message: string, extra: Extra = {}): void {
    this.out.push({ code, severity: 'warning', message, span, ...clean(extra) });
  }

  /** A value this work depends on failed earlier (and was reported there). */
  poisoned(): undefined {
    this.failed = true;
    return undefined;
  }

  /** Whether a "did you mean" hint is still worth searching for (see MAX_HINTED_DIAGNOSTICS). */
  hintsAllowed(): boolean {
    return this.out.length < MAX_HINTED_DIAGNOSTICS;
  }

  /** A reporter on the same list with its own failure flag. */
  fresh(): Reporter {
    return new Reporter(this.out);
  }
}

// Leave absent fields out, so that JSON output and test snapshots stay small.
function clean(extra: Extra): Extra {
  const out: Extra = {};
  if (extra.expected !== undefined) out.expected = extra.expected;
  if (extra.hint !== undefined) out.hint = extra.hint;
  return out;
}
