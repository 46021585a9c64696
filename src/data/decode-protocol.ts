// The messages between the loader's decode pool (decode-pool.ts) and its worker threads
// (decode-worker.ts). Errors cross the thread boundary as data: a DiagnosticError keeps its
// diagnostics (code, file:line, hint), so a bad frame read by a worker reads exactly as one read
// on the main thread.
import { DiagnosticError, type Diagnostic } from '../lang/diagnostics.js';
import type { DatasetRecipe, SkippedSample } from './dataset.js';

export type ToWorker =
  | { kind: 'open'; recipe: DatasetRecipe }
  | { kind: 'read'; id: number; index: number; epoch: number }
  | { kind: 'close' };

export type FromWorker =
  | { kind: 'ready' }
  | { kind: 'clip'; id: number; clip: Float32Array; label: number; skipped?: SkippedSample }
  /** `id` absent: the dataset could not be opened (every read of this worker fails with it). */
  | { kind: 'error'; id?: number; error: SentError }
  | { kind: 'log'; message: string }
  | { kind: 'closed' };

export type SentError = { diagnostics: Diagnostic[] } | { message: string; stack?: string };

export function sendError(e: unknown): SentError {
  if (e instanceof DiagnosticError) return { diagnostics: e.diagnostics };
  const error = e instanceof Error ? e : new Error(String(e));
  return { message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
}

export function receiveError(sent: SentError): Error {
  if ('diagnostics' in sent) return new DiagnosticError(sent.diagnostics);
  const error = new Error(sent.message);
  if (sent.stack) error.stack = sent.stack;
  return error;
}
