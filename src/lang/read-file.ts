// Reading a file whatever the user named: checked before it is read, so that a folder, a device
// such as /dev/zero, a FIFO (which would block forever) or a file larger than the caller can take
// is a reason in words, not a hang or an exhausted memory. Used by the .pst loader and by the
// CLI's file flags (`run --input`); the lowest layer both can import.
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';

export type ReadOutcome =
  | { bytes: Uint8Array }
  /** The file is there but is not read, and why. */
  | { refused: string }
  /** The file cannot be opened: missing (`ENOENT`), not permitted (`EACCES`), …, in words. */
  | { unreadable: string; code?: string };

export function readRegularFile(path: string, maxBytes: number): ReadOutcome {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever before fstat can refuse it.
    fd = openSync(path, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    return code === undefined ? { unreadable: why } : { unreadable: why, code };
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) return { refused: 'it is a folder' };
    if (!stat.isFile()) return { refused: 'it is not a regular file (a device, a FIFO or a socket)' };
    if (stat.size > maxBytes) return { refused: `it has ${stat.size} bytes; at most ${maxBytes} are read` };
    // One byte past the cap is room enough to see that a file grew after fstat.
    const buffer = new Uint8Array(Math.min(maxBytes, stat.size) + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) return { refused: `it has more than ${maxBytes} bytes, the most that are read` };
      if (length === buffer.length) return { refused: 'it grew while being read' };
    }
    return { bytes: buffer.subarray(0, length) };
  } catch (e) {
    return { refused: `reading it failed: ${(e as Error).message}` };
  } finally {
    closeSync(fd);
  }
}
