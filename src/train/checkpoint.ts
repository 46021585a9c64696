// Training checkpoints. A run directory holds
//   RUN/checkpoints/step-00000100/weights.safetensors   the model, official state-dict names
//                                                       (loadable by `pstc run` and by PyTorch)
//   RUN/checkpoints/step-00000100/optimizer.safetensors moments / momentum buffers by param name
//   RUN/checkpoints/step-00000100/state.json            step, data position, seed, settings, and
//                                                       the SHA-256 of both tensor files
//   RUN/latest.json                                     which checkpoint is the newest
// A checkpoint is written into a temporary directory that is renamed into place whole, and only
// then does latest.json (written atomically) point to it — so a crash at any instant leaves the
// previous checkpoint intact and pointed to. Loading verifies the checksums.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticError, escapeControls } from '../lang/diagnostics.js';
import { readRegularFile } from '../lang/read-file.js';
import { writeFileAtomic } from '../weights/atomic.js';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.js';
import type { WeightMap } from '../weights/tensor.js';

/** Where training stands: enough to continue exactly (the RNG is counter-based: seed + step). */
export interface TrainState {
  /** Optimizer steps done. */
  step: number;
  /** The data position of the next batch: epoch and batch index within it. */
  epoch: number;
  batchInEpoch: number;
  seed: number;
  /** The resolved run settings (model, data, optimizer, schedule), to refuse a mismatched resume. */
  settings: Record<string, unknown>;
}

export interface Checkpoint {
  dir: string;
  state: TrainState;
  weights: WeightMap;
  /** Optimizer state tensors by `<slot>.<param name>` (slot: exp_avg, exp_avg_sq, momentum_buffer). */
  optimizer: WeightMap;
}

/** The entries of a run directory: the trainer's settings.json, log.jsonl, summary.json and the
 *  checkpoints above (temporaries start with `.`). `train --out` adds to a folder of only these,
 *  and refuses any other non-empty folder (its files are never replaced). */
const RUN_ENTRIES = new Set(['settings.json', 'log.jsonl', 'checkpoints', 'latest.json', 'summary.json']);
export function isRunFolder(entries: readonly string[]): boolean {
  return entries.every((e) => RUN_ENTRIES.has(e) || e.startsWith('.'));
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
/** The folder of the checkpoint at `step` inside RUN/checkpoints. */
export const stepDirName = (step: number): string => `step-${String(step).padStart(8, '0')}`;

function fail(message: string, file: string, hint: string): never {
  throw new DiagnosticError([{ code: 'PST701', severity: 'error', message: `${file}: ${message}`, flag: '--resume', hint }]);
}

/** The largest state.json / latest.json read (they hold a few settings). */
const MAX_STATE_BYTES = 16 * 1024 * 1024;
/** The largest tensor file of a checkpoint read (weights or optimizer moments). */
const MAX_TENSOR_FILE_BYTES = 2 ** 31 - 1;

/** A checkpoint file's bytes, bounded (a FIFO or /dev/zero in its place is refused, not read). */
function readBounded(path: string, maxBytes: number, hint: string): Uint8Array {
  const read = readRegularFile(path, maxBytes);
  if ('unreadable' in read) fail(read.code === 'ENOENT' ? 'is missing' : `cannot be read: ${read.unreadable}`, path, hint);
  if ('refused' in read) fail(`is not read: ${read.refused}`, path, hint);
  return read.bytes;
}

function parseJsonFile(path: string, hint: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(readBounded(path, MAX_STATE_BYTES, hint)));
  } catch (e) {
    if (e instanceof DiagnosticError) throw e;
    fail('is not valid JSON', path, hint);
  }
}

/** Why a parsed state.json is not a training state (each count a whole number ≥ 0, a settings object, two checksums); undefined when it is one. */
export function stateProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not a JSON object';
  const v = value as Record<string, unknown>;
  for (const key of ['step', 'epoch', 'batchInEpoch'] as const) {
    if (!Number.isSafeInteger(v[key]) || (v[key] as number) < 0) return `has ${key} ${escapeControls(JSON.stringify(v[key]) ?? 'missing')}, not a whole number ≥ 0`;
  }
  if (!Number.isSafeInteger(v.seed) || (v.seed as number) < 0) return `has seed ${escapeControls(JSON.stringify(v.seed) ?? 'missing')}, not a whole number ≥ 0`;
  if (typeof v.settings !== 'object' || v.settings === null || Array.isArray(v.settings)) return 'has no settings object';
  const sums = v.sha256 as Record<string, unknown> | undefined;
  if (typeof sums !== 'object' || sums === null || typeof sums['weights.safetensors'] !== 'string' || typeof sums['optimizer.safetensors'] !== 'string') return 'has no sha256 of its two tensor files';
  return undefined;
}

/** Write a checkpoint of `state` and make it the run's latest; keep the newest `keep` ones. */
export function saveCheckpoint(runDir: string, state: TrainState, weights: WeightMap, optimizer: WeightMap, keep = 2): string {
  const root = join(runDir, 'checkpoints');
  mkdirSync(root, { recursive: true });
  const name = stepDirName(state.step);
  const final = join(root, name);
  const temp = join(root, `.${name}.${process.pid}.tmp`);
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp);
  const weightBytes = writeSafetensors(weights, { format: 'pt', producer: 'pstc train', step: String(state.step) });
  const optimizerBytes = writeSafetensors(optimizer, { producer: 'pstc train', step: String(state.step) });
  try {
    writeFileSync(join(temp, 'weights.safetensors'), weightBytes);
    writeFileSync(join(temp, 'optimizer.safetensors'), optimizerBytes);
    const stateJson = { ...state, sha256: { 'weights.safetensors': sha256(weightBytes), 'optimizer.safetensors': sha256(optimizerBytes) } };
    writeFileSync(join(temp, 'state.json'), `${JSON.stringify(stateJson, null, 2)}\n`);
  } catch (e) {
    // A full disk (ENOSPC) or any failed write: the half-written checkpoint goes, the last whole one stays latest.
    rmSync(temp, { recursive: true, force: true });
    throw e;
  }
  // Re-saving a step (a rerun after a crash) replaces that step's directory only.
  rmSync(final, { recursive: true, force: true });
  renameSync(temp, final);
  writeFileAtomic(join(runDir, 'latest.json'), `${JSON.stringify({ checkpoint: `checkpoints/${name}`, step: state.step })}\n`);
  // Older checkpoints beyond `keep` go, never the one just written.
  const steps = readdirSync(root).filter((d) => /^step-\d{8}$/.test(d)).sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keep))) if (old !== name) rmSync(join(root, old), { recursive: true, force: true });
  return final;
}

/** The run's latest checkpoint, checksums verified; null when the run has none yet. */
export function loadLatestCheckpoint(runDir: string): Checkpoint | null {
  const pointer = join(runDir, 'latest.json');
  if (!existsSync(pointer)) return null;
  const value = parseJsonFile(pointer, 'remove it to start the run afresh, or point --resume at another run');
  if (typeof value !== 'object' || value === null || typeof (value as { checkpoint?: unknown }).checkpoint !== 'string') {
    fail('is not a checkpoint pointer (not JSON with "checkpoint")', pointer, 'remove it to start the run afresh, or point --resume at another run');
  }
  const target = (value as { checkpoint: string }).checkpoint;
  if (!/^checkpoints\/step-\d{8}$/.test(target)) fail(`points to '${target}', not a checkpoint of this run`, pointer, 'remove it to start afresh');
  return loadCheckpoint(join(runDir, target));
}

export function loadCheckpoint(dir: string): Checkpoint {
  const statePath = join(dir, 'state.json');
  if (!existsSync(statePath)) fail('is missing', statePath, 'the checkpoint is incomplete: remove latest.json to start afresh');
  const parsed = parseJsonFile(statePath, 'the checkpoint is damaged');
  const problem = stateProblem(parsed);
  if (problem) fail(problem, statePath, 'state.json was edited or damaged: resume from an earlier checkpoint, or remove latest.json to start afresh');
  const state = parsed as TrainState & { sha256?: Record<string, string> };
  const read = (file: string): WeightMap => {
    const path = join(dir, file);
    const bytes = readBounded(path, MAX_TENSOR_FILE_BYTES, 'the checkpoint is incomplete');
    const want = state.sha256?.[file];
    if (!want || sha256(bytes) !== want) fail('does not match the checksum in state.json', path, 'the file was changed or damaged after it was written; use an earlier checkpoint');
    return readSafetensors(bytes);
  };
  const weights = read('weights.safetensors');
  const optimizer = read('optimizer.safetensors');
  const { sha256: _checksums, ...rest } = state;
  return { dir, state: rest, weights, optimizer };
}
