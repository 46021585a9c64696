// Shared by the data tests: the first diagnostic of a promise that must fail with one.
import { expect } from 'vitest';
import { DiagnosticError, type Diagnostic } from '../../src/lang/diagnostics.js';

export async function diagnosticOf(p: Promise<unknown>): Promise<Diagnostic> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DiagnosticError);
    return (e as DiagnosticError).diagnostics[0]!;
  }
  throw new Error('expected a diagnostic');
}
