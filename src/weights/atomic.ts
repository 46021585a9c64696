// Writing a file so that a reader never sees half of it, and an interrupted write never clobbers
// the previous version: write a temporary file beside it, then rename (atomic within a directory).
// What the path names is respected: a symlink is written through (its target is replaced, the
// link stays), a device or FIFO such as /dev/null is written directly (a rename would replace the
// device node with a regular file), and a read-only file is refused rather than renamed over.
import { accessSync, closeSync, constants, lstatSync, openSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** An output that must not be replaced (read-only): `code` is EACCES, as Node's own errors. */
export class ReadOnlyOutputError extends Error {
  readonly code = 'EACCES';
  constructor(readonly path: string) {
    super(`\`${path}\` is read-only; it was not overwritten`);
    this.name = 'ReadOnlyOutputError';
  }
}

/** The file a write to `path` lands in: the end of its symlinks (even a dangling one's target). */
export function writeTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    // Missing, or a symlink whose target does not exist yet: follow the links by hand.
    let current = resolve(path);
    for (let hops = 0; hops < 40; hops++) {
      let link: string;
      try {
        if (!lstatSync(current).isSymbolicLink()) return current;
        link = readlinkSync(current);
      } catch {
        return current;
      }
      current = resolve(dirname(current), link);
    }
    return current;
  }
}

/** Writable for us: the system says so and some write bit is set (root may write anything, but a
 *  file without write bits was marked read-only on purpose). */
export function isWritable(path: string, stat: Stats): boolean {
  if ((stat.mode & 0o222) === 0) return false;
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where a write to `path` goes: directly into a device or FIFO, or atomically beside a regular
 *  file (keeping its permissions); a read-only file is refused. */
function plan(path: string): { target: string; direct: boolean; mode?: number } {
  const target = writeTarget(path);
  let existing: Stats | undefined;
  try {
    existing = statSync(target);
  } catch {
    existing = undefined;
  }
  if (existing && !existing.isFile() && !existing.isDirectory()) return { target, direct: true };
  if (existing?.isFile() && !isWritable(target, existing)) throw new ReadOnlyOutputError(path);
  // The new version keeps the old one's permissions (a rename would otherwise reset them).
  return existing?.isFile() ? { target, direct: false, mode: existing.mode & 0o7777 } : { target, direct: false };
}

export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const { target, direct, mode } = plan(path);
  if (direct) {
    writeFileSync(target, bytes); // a device or FIFO: there is nothing to replace atomically
    return;
  }
  const temp = temporaryBeside(target);
  try {
    writeFileSync(temp, bytes, mode === undefined ? {} : { mode });
    renameSync(temp, target);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}

/** The same for a writer that streams: `write` gets an open file descriptor of the temporary
 *  file (so large outputs need not be held in memory), and the rename happens after it resolves. */
export async function writeFileAtomicStreaming(path: string, write: (fd: number) => Promise<void> | void): Promise<void> {
  const { target, direct, mode } = plan(path);
  const temp = direct ? target : temporaryBeside(target);
  try {
    const fd = openSync(temp, 'w', mode);
    try {
      await write(fd);
    } finally {
      closeSync(fd);
    }
    if (!direct) renameSync(temp, target);
  } catch (e) {
    if (!direct) rmSync(temp, { force: true });
    throw e;
  }
}

function temporaryBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
}
