// A reporter collects diagnostics into a shared list and remembers whether the work it was made
// for (one model, one constant) failed, so that a failure is reported once and then only
// propagated: an unknown name yields one error, not one per value computed from it.
import type { Diagnostic } from './diagnostics.js';
import type { Span } from './span.js';

export interface Extra {
  expected?: string;
  hint?: string;
}

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
