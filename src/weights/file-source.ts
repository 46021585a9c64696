// A file as a ByteSource (source.ts), read piece by piece: a path that is not a regular file
// (/dev/zero, a FIFO, a directory) is refused before anything is read from it. Node only.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { readNpy, type NpyLimits } from './npy.js';
import { checkRange, type ByteSource } from './source.js';
import { FormatError } from './tensor.js';

/** What a path is, in words, for a refusal: "a FIFO", "a directory". */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Opens a regular file for ranged reads; the caller closes it. Opened non-blocking, so a FIFO with
 * no writer is refused at once instead of hanging in open(). Errors are FormatErrors in words.
 */
export function openFileSource(path: string): ByteSource & { close(): void } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file'
      : code === 'EACCES' ? 'permission denied'
      : code === 'EISDIR' ? 'it is a directory'
      : (e as Error).message;
    throw new FormatError(`cannot open it: ${reason}`);
  }
  const stats = fstatSync(fd);
  if (!stats.isFile()) {
    closeSync(fd);
    throw new FormatError(`it is ${kindOf(stats)}, not a regular file`);
  }
  const size = stats.size;
  return {
    size,
    read(offset, length) {
      checkRange(size, offset, length);
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n === 0) throw new FormatError('the file became shorter while it was read');
        done += n;
      }
      return out;
    },
    close() {
      closeSync(fd);
    },
  };
}

/** Runs `fn` on a file source and always closes it. */
export function withFileSource<T>(path: string, fn: (source: ByteSource) => T): T {
  const source = openFileSource(path);
  try {
    return fn(source);
  } finally {
    source.close();
  }
}

/** A .npy file, read through a file source (bounded by its header, refused if not a regular file). */
export function readNpyFile(path: string, limits: NpyLimits = {}): { shape: number[]; data: Float32Array } {
  return withFileSource(path, (source) => readNpy(source, limits));
}
