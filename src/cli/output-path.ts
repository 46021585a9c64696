// Where a command may write, checked before it does any work: one checker for every command
// (compile, emit-ts, explain --svg/--png, run, fmt), so that a folder, a missing parent, a
// read-only file or an output that is one of the command's inputs is a one-line message naming
// the flag (exit 2) rather than a raw ENOENT/EISDIR/EEXIST/EACCES, or a silently lost input.
import { accessSync, constants, readdirSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { escapeControls } from '../lang/diagnostics.js';
import { isWritable, writeTarget } from '../weights/atomic.js';
import { UsageError } from './errors.js';

export interface OutputSpec {
  /** The flag that named the path, e.g. `--out`, for the message. */
  flag: string;
  path: string;
  /** A file (written atomically beside itself) or a folder (created with its parents if missing). */
  kind: 'file' | 'folder';
  /** Files the command reads: the output must not be one of them (compared by device and inode). */
  inputs?: Iterable<string>;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function dirWritable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Throws a UsageError naming the flag when `spec.path` cannot, or must not, be written. */
export function checkOutputPath(spec: OutputSpec): void {
  const shown = `\`${escapeControls(spec.path)}\``;
  const fail = (why: string): never => {
    throw new UsageError(`${spec.flag}: cannot write ${shown}: ${why}`);
  };
  if (spec.path === '') fail('the path is empty');
  const target = writeTarget(spec.path);
  const existing = statOrUndefined(target);

  if (existing) {
    for (const input of spec.inputs ?? []) {
      const other = statOrUndefined(input);
      if (other && other.dev === existing.dev && other.ino === existing.ino) {
        fail(`it is an input of this command (${escapeControls(input)}); writing it would destroy that input — choose another path`);
      }
    }
  }

  if (spec.kind === 'folder') {
    if (existing) {
      if (!existing.isDirectory()) fail('it exists and is not a folder');
      if (!dirWritable(target)) fail('the folder is not writable');
      return;
    }
    // Missing: created with its parents; the nearest existing ancestor must be a writable folder.
    let ancestor = dirname(target);
    while (!statOrUndefined(ancestor) && dirname(ancestor) !== ancestor) ancestor = dirname(ancestor);
    const a = statOrUndefined(ancestor);
    if (!a?.isDirectory()) fail(`\`${escapeControls(ancestor)}\` is not a folder`);
    if (!dirWritable(ancestor)) fail(`\`${escapeControls(ancestor)}\` is not writable`);
    return;
  }

  if (existing?.isDirectory()) fail('it is a folder; give a file name');
  if (existing && !existing.isFile()) return; // a device or FIFO (e.g. /dev/null): written directly
  if (existing && !isWritable(target, existing)) fail('the file is read-only (it was not overwritten)');
  const parent = dirname(target);
  const p = statOrUndefined(parent);
  if (!p) fail(`its folder \`${escapeControls(parent)}\` does not exist`);
  if (!p!.isDirectory()) fail(`\`${escapeControls(parent)}\` is not a folder`);
  if (!dirWritable(parent)) fail(`its folder \`${escapeControls(parent)}\` is not writable`);
}

export interface OwnFolderSpec {
  flag: string;
  path: string;
  /** What a folder of ours is, for the message: e.g. "a run directory of `pstc train`". */
  what: string;
  /** Whether the folder's entries (names, not paths) are a folder of ours that the command may
   *  add to or continue; absent: only a new or empty folder will do. */
  ours?: (entries: readonly string[], folder: string) => boolean;
}

/**
 * A command that fills a folder with files of its own (`train --out`, `ablate --out`,
 * `compile --emit wgsl --out`, `data export --out`) writes only into a new or empty folder, or one
 * it wrote before: a non-empty folder of anything else is refused by the flag (exit 2), so that
 * files of the same names there (an `index.md`, a `plan.json`, a `settings.json`) are never replaced.
 */
export function checkOwnFolder(spec: OwnFolderSpec): void {
  const stat = statOrUndefined(spec.path);
  if (!stat) return;
  const shown = `\`${escapeControls(spec.path)}\``;
  if (!stat.isDirectory()) throw new UsageError(`${spec.flag}: cannot write ${shown}: it exists and is not a folder`);
  let entries: string[];
  try {
    entries = readdirSync(spec.path);
  } catch (e) {
    throw new UsageError(`${spec.flag}: cannot read the folder ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (entries.length === 0 || spec.ours?.(entries, spec.path)) return;
  throw new UsageError(
    `${spec.flag}: ${shown} is a folder with other files (${entries.slice(0, 3).map((e) => escapeControls(e)).join(', ')}${entries.length > 3 ? ', …' : ''}) and not ${spec.what}; give a new or empty folder (nothing was written)`,
  );
}
