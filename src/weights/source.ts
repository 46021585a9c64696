// Where a reader's bytes come from: a buffer already in memory, or a file read piece by piece.
// Readers ask for the byte ranges they need (a header, then the tensors the model keeps), so a
// 10 GB checkpoint costs what the model needs, not 10 GB; and a path that is not a regular file
// (/dev/zero, a FIFO, a directory) is refused before anything is read from it.
import { FormatError } from './tensor.js';

// (The Node file reader is file-source.ts: this module stays free of Node, for the browser.)

export interface ByteSource {
  /** Bytes in the file. */
  readonly size: number;
  /** `length` bytes from `offset`; throws FormatError when the range is not inside the file. */
  read(offset: number, length: number): Uint8Array;
}

export function checkRange(size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new FormatError(`the file ends early: bytes ${offset}–${offset + length} of a ${size}-byte file (truncated?)`);
  }
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(offset, length) {
      checkRange(bytes.length, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

