// Reading a file a flag names (a clip): a device, a FIFO, a folder or a file larger than anything
// pstc can take is a one-line message naming the flag, not a hang or an internal error.
import { escapeControls } from '../lang/diagnostics.js';
import { readRegularFile } from '../lang/read-file.js';
import { UsageError } from './errors.js';

/** The most bytes an input file may have: Node cannot hold more in one buffer. */
export const MAX_INPUT_BYTES = 2 ** 31 - 2;

export function readInputFile(flag: string, path: string, maxBytes = MAX_INPUT_BYTES): Uint8Array {
  const read = readRegularFile(path, maxBytes);
  if ('bytes' in read) return read.bytes;
  throw new UsageError(`${flag}: cannot read \`${escapeControls(path)}\`: ${'refused' in read ? read.refused : read.unreadable}`);
}
