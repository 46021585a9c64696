// Command-line flags shared by commands: numeric values whose mistakes name the flag, what was
// wrong and what to do, the model argument (<model> and --model), and the input-size flags
// (--batch, --frames, --size) with their defaults.
import { parseByteSize } from '../train/micro-batch.js';
import type { Command } from 'commander';
import type { InputConfig, ModelConfig } from '../lang/model.js';
import { escapeControls } from '../lang/diagnostics.js';
import { UsageError } from './errors.js';
import { defaultWorkers } from '../data/decode-pool.js';
import { PRECISIONS, type Precision } from '../../backends/webgpu/precision.js';

export function positiveInt(flag: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new UsageError(`${flag}: expected a positive integer, got \`${shown(value)}\``);
    }
    if (n > max) throw new UsageError(`${flag}: at most ${max}, got ${n}`);
    return n;
  };
}

/** A flag's value echoed in a message: control characters escaped, a long one clipped. */
function shown(value: string): string {
  return escapeControls(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/** Sanity bounds on the input flags, each named in its own message. Whether a size that passes
 *  them fits is decided with the model (src/ir/input-limits.ts: no tensor over 2^31 − 1 elements). */
export const MAX_BATCH = 65536;
export const MAX_FRAMES = 4096;
export const MAX_SIZE = 16384;
/** bench's pass counts: a billion passes would run for days. */
export const MAX_PASSES = 100000;

export function nonNegativeInt(flag: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) {
      throw new UsageError(`${flag}: expected a non-negative integer, got \`${shown(value)}\``);
    }
    if (n > max) throw new UsageError(`${flag}: at most ${max}, got ${n}`);
    return n;
  };
}

/** A size in bytes: `512MiB`, `16GiB`, `1.5GB`, or a plain number of bytes. */
export function byteSize(flag: string): (value: string) => number {
  return (value: string) => {
    const n = parseByteSize(value);
    if (n === undefined) throw new UsageError(`${flag}: expected a size such as 512MiB or 16GiB, got \`${shown(value)}\``);
    return n;
  };
}

/** The training memory flags (train, bench --train, explain --train): recomputation and a budget. */
/** What `--precision` means, said once for every command that takes it (run, bench). */
export const PRECISION_HELP =
  'f32 (default) or f16: weights and activations stored as half floats on the device (half the bytes), arithmetic and accumulation in f32, ' +
  "clip and outputs f32; needs an adapter offering 'shader-f16' (PST314 otherwise); forward only (training is f32)";

/** Parses a precision flag's value (f32 or f16); a mistake names `flag`. */
export function precisionOf(flag: string): (value: string) => Precision {
  return (value) => {
    if ((PRECISIONS as readonly string[]).includes(value)) return value as Precision;
    throw new UsageError(`${flag}: '${value}' is not a precision; use ${PRECISIONS.join(' or ')}`);
  };
}

/** Adds `--precision f32|f16` (backends/webgpu/precision.ts) to a forward command. */
export function withPrecisionOption(command: Command): Command {
  return command.option('--precision <type>', PRECISION_HELP, precisionOf('--precision'), 'f32');
}

export interface MemoryFlags {
  recompute?: boolean;
  memoryBudget?: number;
}

export function withMemoryOptions(command: Command): Command {
  return command
    .option('--recompute', 'training: recompute each block\'s forward activations in the backward (less memory, about one more forward of compute)')
    .option('--memory-budget <size>', 'training: device memory to plan a step within, e.g. 16GiB; over it, --recompute is turned on (with a note), still over it is PST708', byteSize('--memory-budget'));
}

/** Adds the `<model>` file argument, `-m, --model NAME` (which model of the file) and
 *  `--set PATH=VALUE` (settings on top of it, checked like the file) to a command. */
export function withModelArgument(command: Command): Command {
  return command
    .argument('<model>', 'a .pst file')
    .option('-m, --model <name>', 'which model or sweep variant of the file (default: the last model declared)')
    .option('--set <PATH=VALUE>', 'change a property of the model without a new file, e.g. head.classes=400, stage.3.depth=4, drop_path=0 (repeatable)', collect, []);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The flags withModelArgument adds. */
export interface ModelFlags {
  model?: string;
  set?: string[];
}

export interface InputFlags {
  batch?: number;
  frames?: number;
  size?: number;
}

/** Adds --batch, --frames and --size to a command. */
export function withInputOptions(command: Command): Command {
  return command
    .option('--batch <B>', "batch size (default: the model's input.batch)", positiveInt('--batch', MAX_BATCH))
    .option('--frames <T>', "input frames (default: the model's input.frames)", positiveInt('--frames', MAX_FRAMES))
    .option('--size <S>', "input height = width in pixels (default: the model's input.size)", positiveInt('--size', MAX_SIZE));
}

/** The input size the flags ask for, each missing one taken from the model's `input { … }`. */
export function inputFrom(model: ModelConfig, flags: InputFlags): InputConfig {
  return {
    batch: flags.batch ?? model.input.batch,
    frames: flags.frames ?? model.input.frames,
    size: flags.size ?? model.input.size,
  };
}

/** The loader's flags (train, eval, bench --data). */
export interface LoaderFlags {
  workers: number;
  skipBad?: boolean;
}

/** Adds --workers N (decode threads) and --skip-bad to a command that reads --data. */
export function withLoaderOptions(command: Command): Command {
  return command
    .option('--workers <N>', `worker threads that decode and augment clips ahead of the device; 0: on the main thread (default here: ${defaultWorkers()}, one fewer than the CPU cores, at most 4)`, nonNegativeInt('--workers', 64), defaultWorkers())
    .option('--skip-bad', 'log and skip bad samples (missing or corrupt frames, undecodable videos, bad list lines) instead of stopping');
}
