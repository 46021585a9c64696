// Just enough of the zip format to read a torch.save archive without holding it in memory: the
// central directory (zip64 included), then single entries on demand, stored or deflated. Every
// size is checked before it is trusted: the directory's against the file, an entry's declared
// size against the caller's cap (so a decompression bomb is refused before inflating), and the
// inflated length against the declared one.
import { inflateRawSync } from 'node:zlib';
import type { ByteSource } from './source.js';
import { FormatError } from './tensor.js';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  /** Declared uncompressed size. */
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function isZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`zip archive: ${what} is ${v}, beyond any real file`);
  return Number(v);
}

const viewOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The archive's entries by name; a directory larger than `maxDirectoryBytes` is refused unread. */
export function readZipDirectory(source: ByteSource, maxDirectoryBytes: number): Map<string, ZipEntry> {
  const tailLength = Math.min(source.size, 22 + 65535);
  const tail = source.read(source.size - tailLength, tailLength);
  const tailView = viewOf(tail);
  let at = tail.length - 22;
  while (at >= 0 && tailView.getUint32(at, true) !== EOCD) at--;
  if (at < 0) throw new FormatError('zip archive has no end-of-directory record (truncated file?)');
  let count = tailView.getUint16(at + 10, true);
  let directorySize = tailView.getUint32(at + 12, true);
  let directoryOffset = tailView.getUint32(at + 16, true);
  const eocdOffset = source.size - tailLength + at;
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    if (eocdOffset < 20) throw new FormatError('zip archive: zip64 locator missing');
    const locator = viewOf(source.read(eocdOffset - 20, 20));
    if (locator.getUint32(0, true) !== ZIP64_LOCATOR) throw new FormatError('zip archive: zip64 locator missing');
    const record = viewOf(source.read(u64(locator, 8, 'the zip64 record offset'), 56));
    if (record.getUint32(0, true) !== ZIP64_EOCD) throw new FormatError('zip archive: zip64 end-of-directory record missing');
    count = u64(record, 32, 'the entry count');
    directorySize = u64(record, 40, 'the directory size');
    directoryOffset = u64(record, 48, 'the directory offset');
  }
  if (directorySize > maxDirectoryBytes) {
    throw new FormatError(`zip archive: its directory is ${directorySize} bytes (${count} entries); more than a checkpoint of this model can need (${maxDirectoryBytes})`);
  }
  const directory = source.read(directoryOffset, directorySize);
  const view = viewOf(directory);
  const decoder = new TextDecoder();
  const entries = new Map<string, ZipEntry>();
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 46 > directory.length || view.getUint32(pos, true) !== CENTRAL) throw new FormatError('zip archive: its directory is malformed');
    const nameLength = view.getUint16(pos + 28, true);
    const extraLength = view.getUint16(pos + 30, true);
    const commentLength = view.getUint16(pos + 32, true);
    const end = pos + 46 + nameLength + extraLength + commentLength;
    if (end > directory.length) throw new FormatError('zip archive: its directory is malformed');
    const entry: ZipEntry = {
      name: decoder.decode(directory.subarray(pos + 46, pos + 46 + nameLength)),
      method: view.getUint16(pos + 10, true),
      compressedSize: view.getUint32(pos + 20, true),
      size: view.getUint32(pos + 24, true),
      localHeaderOffset: view.getUint32(pos + 42, true),
    };
    readZip64Extra(view, pos + 46 + nameLength, extraLength, entry);
    if (entries.has(entry.name)) throw new FormatError(`zip archive holds \`${entry.name}\` twice`);
    entries.set(entry.name, entry);
    pos = end;
  }
  return entries;
}

/** Sizes and offset that did not fit in 32 bits are in the zip64 extra field, in this order. */
function readZip64Extra(view: DataView, start: number, length: number, entry: ZipEntry): void {
  const fields = (['size', 'compressedSize', 'localHeaderOffset'] as const).filter((k) => entry[k] === 0xffffffff);
  if (!fields.length) return;
  for (let at = start; at + 4 <= start + length; ) {
    const id = view.getUint16(at, true);
    const size = view.getUint16(at + 2, true);
    if (id === 1) {
      if (size < 8 * fields.length || at + 4 + size > start + length) break;
      fields.forEach((k, i) => (entry[k] = u64(view, at + 4 + 8 * i, `the ${k} of \`${entry.name}\``)));
      return;
    }
    at += 4 + size;
  }
  throw new FormatError(`zip archive: \`${entry.name}\` lacks its zip64 sizes`);
}

/** An entry's bytes; its declared size must not exceed `maxSize` (checked before reading or inflating). */
export function readZipEntry(source: ByteSource, entry: ZipEntry, maxSize: number): Uint8Array {
  if (entry.size > maxSize) {
    throw new FormatError(`zip entry \`${entry.name}\` declares ${entry.size} bytes; at most ${maxSize} can be needed`);
  }
  const header = viewOf(source.read(entry.localHeaderOffset, 30));
  if (header.getUint32(0, true) !== LOCAL) throw new FormatError(`zip entry \`${entry.name}\`: its local header is missing`);
  const dataStart = entry.localHeaderOffset + 30 + header.getUint16(26, true) + header.getUint16(28, true);
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) throw new FormatError(`zip entry \`${entry.name}\`: stored sizes disagree`);
    return source.read(dataStart, entry.size);
  }
  if (entry.method !== 8) throw new FormatError(`zip entry \`${entry.name}\` uses compression method ${entry.method}; pstc reads stored and deflated entries`);
  const compressed = source.read(dataStart, entry.compressedSize);
  let inflated: Uint8Array;
  try {
    // zlib stops as soon as the output passes the declared size: a bomb costs no more than that.
    inflated = inflateRawSync(compressed, { maxOutputLength: Math.max(1, entry.size) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new FormatError(`zip entry \`${entry.name}\` inflates to more than the ${entry.size} bytes it declares`);
    }
    throw new FormatError(`zip entry \`${entry.name}\` does not inflate: ${(e as Error).message}`);
  }
  if (inflated.length !== entry.size) {
    throw new FormatError(`zip entry \`${entry.name}\` inflates to ${inflated.length} bytes, not the ${entry.size} it declares`);
  }
  return new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.length);
}
