// Reading a file a flag names (a clip): checked before it is read, so that a device such as
// /dev/zero, a FIFO (which would block forever) or a file larger than anything pstc can take is a
// one-line message naming the flag, not a hang, an out-of-memory or an internal error.
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { escapeControls } from '../lang/diagnostics.js';
import { UsageError } from './errors.js';

/** The most bytes an input file may have: Node cannot hold more in one buffer. */
export const MAX_INPUT_BYTES = 2 ** 31 - 1;

export function readInputFile(flag: string, path: string, maxBytes = MAX_INPUT_BYTES): Uint8Array {
  const fail = (why: string): never => {
    throw new UsageError(`${flag}: cannot read \`${escapeControls(path)}\`: ${why}`);
  };
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) fail('it is a folder');
    if (!stat.isFile()) fail('it is not a regular file (a device, a FIFO or a socket)');
    if (stat.size > maxBytes) fail(`it has ${stat.size} bytes; at most ${maxBytes} are read`);
    const bytes = new Uint8Array(stat.size);
    let length = 0;
    while (length < bytes.length) {
      const n = readSync(fd, bytes, length, bytes.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return length === bytes.length ? bytes : bytes.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}
