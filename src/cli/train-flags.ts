// The training flags that a model's `train { … }` section can also set (src/lang/train-config.ts,
// TRAIN_KEYS): declared from the one table, so a flag and its key have the same range and
// meaning. The flags have no commander defaults — a flag not given must be told apart from its
// default, so that the model's section can fill it in; the command's own defaults come last.
import type { Command } from 'commander';
import { TRAIN_KEYS, type TrainField, type TrainKeySpec, type TrainSource, type TrainValues } from '../lang/train-config.js';
import { UsageError } from './errors.js';
import { nonNegativeInt, positiveInt } from './options.js';

/** A finite number ≥ 0 (rates, norms), named in its message. */
export function nonNegativeNumber(flag: string, max = Number.MAX_VALUE): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag}: expected a number ≥ 0, got \`${value.slice(0, 40)}\``);
    if (n > max) throw new UsageError(`${flag}: at most ${max}, got ${n}`);
    return n;
  };
}

/** The parser of one key's flag, within the key's range. */
export function trainFlagParser(spec: TrainKeySpec): (value: string) => number | string {
  const max = spec.range?.max ?? Number.MAX_SAFE_INTEGER;
  if (spec.kind === 'word') {
    return (value: string) => {
      if (!spec.words!.includes(value)) throw new UsageError(`${spec.flag}: ${spec.words!.join(' or ')}, got \`${value.slice(0, 40)}\``);
      return value;
    };
  }
  if (spec.kind === 'int') return spec.range?.min === 1 ? positiveInt(spec.flag, max) : nonNegativeInt(spec.flag, max);
  return nonNegativeNumber(spec.flag, spec.range?.max);
}

/**
 * Declare the flags of `fields` on a command. `defaults` says, per field, what the command uses
 * when neither the flag nor the model's train section gives a value (shown in the help).
 */
export function withTrainFlags(command: Command, fields: readonly TrainField[], defaults: Partial<Record<TrainField, string>>): Command {
  for (const spec of TRAIN_KEYS.filter((k) => fields.includes(k.field))) {
    const arg = spec.kind === 'word' ? '<name>' : spec.kind === 'int' ? '<N>' : '<x>';
    const fallback = defaults[spec.field];
    const help = `${spec.help}; default: the model's \`train { ${spec.key} = … }\`${fallback ? `, else ${fallback}` : ''}`;
    command.option(`${spec.flag} ${arg}`, help, trainFlagParser(spec));
  }
  return command;
}

/** The train-section settings given as flags (commander's camelCase names are the fields). */
export function trainFlagValues(flags: object): TrainValues {
  const given = flags as Partial<Record<TrainField, unknown>>;
  const out: Record<string, unknown> = {};
  for (const spec of TRAIN_KEYS) if (given[spec.field] !== undefined) out[spec.field] = given[spec.field];
  return out as TrainValues;
}

/** `lr` from the model, `batch` from a flag, …: for settings.json, in the keys' own names. */
export function sourcesRecord(from: Partial<Record<TrainField, TrainSource>>, fields: readonly TrainField[]): Record<string, TrainSource> {
  const out: Record<string, TrainSource> = {};
  for (const spec of TRAIN_KEYS) if (fields.includes(spec.field)) out[spec.key] = from[spec.field] ?? 'default';
  return out;
}
