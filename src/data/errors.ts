// Data mistakes are diagnostics that name the `--data` flag (or the file the spec points at), say
// what was wrong and what to do. One constructor so that every data module words them alike.
import { DiagnosticError, type Diagnostic } from '../lang/diagnostics.js';

export const DATA_FLAG = '--data';

/** A PST6xx diagnostic for the `--data` flag; `where` replaces the flag when a file (and line) is
 *  the better place to point at, e.g. `train.txt:12`. */
export function dataDiagnostic(code: string, message: string, extra: { hint?: string; expected?: string; where?: string } = {}): Diagnostic {
  return {
    code,
    severity: 'error',
    message,
    flag: extra.where ?? DATA_FLAG,
    ...(extra.expected ? { expected: extra.expected } : {}),
    ...(extra.hint ? { hint: extra.hint } : {}),
  };
}

export function dataError(code: string, message: string, extra: { hint?: string; expected?: string; where?: string } = {}): DiagnosticError {
  return new DiagnosticError([dataDiagnostic(code, message, extra)]);
}
