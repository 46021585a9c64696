// Which data a command reads: `--data SPEC` when given (it replaces the model's data section as a
// whole), else the model's `data { … }` section (`--set data.KEY=VALUE` changes one of its
// settings). docs/data.md states the precedence.
import { dataSpecOfSection, type DataPurpose, type DataSpec } from '../data/index.js';
import type { ModelConfig } from '../lang/model.js';
import { UsageError } from './errors.js';

export function chooseData(model: ModelConfig, flag: string | undefined, purpose: DataPurpose): string | DataSpec {
  if (flag !== undefined) return flag;
  if (!model.data) {
    throw new UsageError(`--data: missing, and ${model.name} has no data section; e.g. --data synthetic:motion, or \`data { preset = sthv2  train = "train.txt"  root = "videos" }\` in the model (docs/data.md)`);
  }
  const spec = dataSpecOfSection(model.data, purpose);
  if (typeof spec === 'string') throw new UsageError(`--data: missing, and the data section of ${model.name} cannot stand for it: ${spec}; give --data, or --set data.train="…"`);
  return spec;
}
