// The Node host's ReadFile: .pst files from disk, checked before they are read (a folder, a device
// such as /dev/zero, a FIFO, a file over MAX_SOURCE_BYTES or binary data is refused with a reason).
// Kept apart from load.ts so that the language (which a browser page also runs, with files from
// memory) imports no Node module.
import { decodeSource, MAX_SOURCE_BYTES, type ReadFile } from './load.js';
import { readRegularFile } from './read-file.js';

export const readFromDisk: ReadFile = (file) => {
  const read = readRegularFile(file, MAX_SOURCE_BYTES);
  if ('unreadable' in read) return undefined; // missing or unreadable: reported as PST201 by the caller
  if ('refused' in read) return read;
  return decodeSource(read.bytes);
};
