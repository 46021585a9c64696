// The model a command works on: the file argument, `--model` and `--set`, read from disk.
import type { CheckResult } from '../lang/elaborate.js';
import type { ModelConfig } from '../lang/model.js';
import { loadModelWithSettings } from '../lang/overrides.js';
import { readFromDisk } from '../lang/read-disk.js';
import type { ModelFlags } from './options.js';

export function loadCommandModel(file: string, flags: ModelFlags): { model: ModelConfig; result: CheckResult } {
  return loadModelWithSettings(file, flags.model, flags.set ?? [], readFromDisk);
}
