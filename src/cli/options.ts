// Command-line flags shared by commands: numeric values whose mistakes name the flag, what was
// wrong and what to do, the model argument (<model> and --model), and the input-size flags
// (--batch, --frames, --size) with their defaults.
import type { Command } from 'commander';
import type { ModelConfig } from '../lang/model.js';
import { UsageError } from './errors.js';

export function positiveInt(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new UsageError(`${flag}: expected a positive integer, got \`${value}\``);
    }
    return n;
  };
}

export function nonNegativeInt(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) {
      throw new UsageError(`${flag}: expected a non-negative integer, got \`${value}\``);
    }
    return n;
  };
}

/** Adds the `<model>` file argument and `-m, --model NAME` (which model of the file) to a command. */
export function withModelArgument(command: Command): Command {
  return command
    .argument('<model>', 'a .pst file')
    .option('-m, --model <name>', 'which model or sweep variant of the file (default: the last model declared)');
}

export interface InputFlags {
  batch?: number;
  frames?: number;
  size?: number;
}

/** Adds --batch, --frames and --size to a command. */
export function withInputOptions(command: Command): Command {
  return command
    .option('--batch <B>', "batch size (default: the model's input.batch)", positiveInt('--batch'))
    .option('--frames <T>', "input frames (default: the model's input.frames)", positiveInt('--frames'))
    .option('--size <S>', "input height = width in pixels (default: the model's input.size)", positiveInt('--size'));
}

/** The input size the flags ask for, each missing one taken from the model's `input { … }`. */
export function inputFrom(model: ModelConfig, flags: InputFlags): { batch: number; frames: number; size: number } {
  return {
    batch: flags.batch ?? model.input.batch,
    frames: flags.frames ?? model.input.frames,
    size: flags.size ?? model.input.size,
  };
}
