// Writing a file so that a reader never sees half of it, and an interrupted write never clobbers
// the previous version: write a temporary file beside it, then rename (atomic within a directory).
import { closeSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const temp = temporaryBeside(path);
  try {
    writeFileSync(temp, bytes);
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}

/** The same for a writer that streams: `write` gets an open file descriptor of the temporary
 *  file (so large outputs need not be held in memory), and the rename happens after it resolves. */
export async function writeFileAtomicStreaming(path: string, write: (fd: number) => Promise<void> | void): Promise<void> {
  const temp = temporaryBeside(path);
  try {
    const fd = openSync(temp, 'w');
    try {
      await write(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}

function temporaryBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
}
