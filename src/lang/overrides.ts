// `--set PATH=VALUE` (as mmaction's --cfg-options): a quick variant of a model without a new
// file. The settings become the body of a model that `extends` the chosen one, in a small
// in-memory file that imports the model's file — so they are parsed, resolved and checked by
// exactly the rules of the language (paths as in sweeps: `stage.3.depth`, `head.classes`,
// `patch_shift.ratio`), and an error points at the setting that caused it.
import { DiagnosticError } from './diagnostics.js';
import { loadModel, type CheckResult } from './elaborate.js';
import type { ReadFile } from './load.js';
import { basename, dirname, join, normalise } from './paths.js';
import type { ModelConfig } from './model.js';

/** The name of the in-memory file the settings live in (beside the model's file, so that its
 *  import is relative); diagnostics show it as their file. */
export const SETTINGS_FILE = '--set';

const PATH_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/;
/** Characters a value may not hold: they would end the setting's line or body, or open a comment. */
const FORBIDDEN_IN_VALUE = /[{}\n\r]|\/\/|\/\*/;

function fail(setting: string, message: string, hint: string): never {
  throw new DiagnosticError([{ code: 'PST270', severity: 'error', message: `--set ${JSON.stringify(setting)}: ${message}`, flag: '--set', hint }]);
}

/** Parse `PATH=VALUE` settings, refusing anything that is not one property assignment. */
export function parseSettings(settings: readonly string[]): { path: string; value: string }[] {
  return settings.map((s) => {
    if (s.length > 4096) fail(s.slice(0, 40) + '…', `is ${s.length} characters long`, 'a setting is one property and a value');
    const eq = s.indexOf('=');
    if (eq < 0) fail(s, 'has no `=`', 'write PATH=VALUE, e.g. --set head.classes=400 or --set stage.3.depth=4');
    const p = s.slice(0, eq).trim();
    const value = s.slice(eq + 1).trim();
    if (!PATH_RE.test(p)) fail(s, `\`${p}\` is not a property path`, 'a path is names joined by dots, e.g. drop_path, head.classes, stage.3.depth');
    if (!value) fail(s, 'has no value after `=`', 'write PATH=VALUE');
    if (FORBIDDEN_IN_VALUE.test(value)) fail(s, 'the value holds a brace, a newline or a comment', 'a value is one expression: a number, a name, a tuple or a list');
    return { path: p, value };
  });
}

/**
 * The model `modelName` of `file` (or the file's last model) with `settings` applied, checked.
 * Without settings this is loadModel. The result keeps the original model's name.
 */
export function loadModelWithSettings(
  file: string,
  modelName: string | undefined,
  settings: readonly string[],
  readFile: ReadFile,
): { model: ModelConfig; result: CheckResult } {
  const base = loadModel(file, modelName, readFile);
  if (settings.length === 0) return base;
  const parsed = parseSettings(settings);
  const target = basename(file);
  if (/["\n\r\\]/.test(target)) {
    throw new DiagnosticError([
      { code: 'PST270', severity: 'error', message: `--set cannot be used with a model path holding a quote, backslash or newline: ${JSON.stringify(file)}`, flag: '--set', hint: 'rename or link the file' },
    ]);
  }
  const name = base.model.name;
  const variant = `${name}__set`;
  // One setting per line, from line 3: a diagnostic's line tells which --set it concerns.
  const overlay = normalise(join(dirname(file), SETTINGS_FILE));
  const text = [`import "${target}"`, `model ${variant} extends ${name} {`, ...parsed.map((s) => `  ${s.path} = ${s.value}`), '}', ''].join('\n');
  const overlayRead: ReadFile = (f) => (f === overlay ? text : readFile(f));
  const { model, result } = loadModel(overlay, variant, overlayRead);
  // The overlay is no file on disk: what was read is the model's file and its imports.
  result.sources.delete(overlay);
  return { model: { ...model, name }, result };
}
