// NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// "\x93NUMPY", version, header length (u16 for 1.0, u32 for 2.0/3.0), then a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces to a multiple of
// 64 bytes and ended by '\n'; then the data. We read little-endian float32, float64 and float16 in C order.
// Reading is bounded: the header is capped, the shape is checked (exactly, as BigInt) against the
// bytes the file holds before anything is allocated, and a file path must name a regular file.
import { bytesSource, type ByteSource } from './source.js';
import { FormatError, float16FromLE, float32FromLE, float32ToLE, float64FromLE, nameText, numel, numelExact, shapeText } from './tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** NumPy itself refuses headers over 10,000 bytes (numpy.lib.format._MAX_HEADER_SIZE) unless told otherwise. */
const MAX_HEADER_BYTES = 64 << 10;

export interface NpyLimits {
  /** Most elements an array may have: 2^28 (1 GiB of float32) unless the caller knows better. */
  maxElements?: number;
}

const READERS: Record<string, [bytesPerElement: number, read: typeof float32FromLE]> = {
  '<f4': [4, float32FromLE],
  '<f8': [8, float64FromLE],
  '<f2': [2, float16FromLE],
};

/** A parsed .npy header: where the data starts, its dtype descriptor ('<f4', '<i8', '|u1', …) and
 *  shape. Readers that stream (one clip of a large array at a time) need only this and an offset. */
export interface NpyHeader {
  descr: string;
  shape: number[];
  dataStart: number;
}

/** Parses the header from a file, or from its first bytes (at least the header); capped in size. */
export function readNpyHeader(input: Uint8Array | ByteSource): NpyHeader {
  const source = input instanceof Uint8Array ? bytesSource(input) : input;
  const prefix = source.read(0, Math.min(12, source.size));
  if (prefix.length < 10 || MAGIC.some((b, i) => prefix[i] !== b)) throw new FormatError('not a .npy file (no \\x93NUMPY magic)');
  const major = prefix[6]!;
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (prefix.length < 12) throw new FormatError('.npy file ends inside its header');
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new FormatError(`.npy format version ${major}.${prefix[7]} is not supported (1.0–3.0 are)`);
  }
  if (headerLength > MAX_HEADER_BYTES) throw new FormatError(`.npy header is ${headerLength} bytes; pstc reads headers up to ${MAX_HEADER_BYTES}`);
  if (headerStart + headerLength > source.size) throw new FormatError('.npy file ends inside its header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(source.read(headerStart, headerLength));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const dims = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || dims === undefined) {
    throw new FormatError(`.npy header is malformed: ${nameText(header.trim())}`);
  }
  if (fortran === 'True') {
    throw new FormatError('.npy array is in Fortran order; save it with np.ascontiguousarray(...) first');
  }
  return { descr, shape: parseShape(dims), dataStart: headerStart + headerLength };
}

export function readNpy(input: Uint8Array | ByteSource, limits: NpyLimits = {}): { shape: number[]; data: Float32Array } {
  const source = input instanceof Uint8Array ? bytesSource(input) : input;
  const maxElements = limits.maxElements ?? 2 ** 28;
  const { descr, shape, dataStart } = readNpyHeader(source);
  const reader = READERS[descr];
  if (!reader) {
    throw new FormatError(
      `.npy dtype '${nameText(descr)}' is not supported; pstc reads little-endian float32 ('<f4'), float64 ('<f8') and float16 ('<f2')`,
    );
  }
  const [size, read] = reader;
  const count = numelExact(shape);
  const available = BigInt(source.size - dataStart);
  if (count * BigInt(size) > available) {
    throw new FormatError(
      `.npy data is ${available} bytes; its shape ${shapeText(shape)} needs ${count * BigInt(size)} (${count} × ${size}; truncated file?)`,
    );
  }
  if (count > BigInt(maxElements)) throw new FormatError(`.npy array of shape ${shapeText(shape)} has ${count} elements; pstc reads at most ${maxElements}`);
  const n = Number(count);
  return { shape, data: read(source.read(dataStart, n * size), 0, n) };
}

/** A shape tuple's text, `2, 3` or `5,` or empty; every dimension a safe integer (printed exactly when not). */
function parseShape(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 1 && parts[0] === '') return [];
  if (parts.length > 64) throw new FormatError(`.npy shape has ${parts.length} dimensions (at most 64)`);
  return parts.map((part) => {
    const digits = /^(\d{1,40})L?$/.exec(part)?.[1];
    if (digits === undefined) throw new FormatError(`.npy header has a malformed shape (${nameText(text)})`);
    const value = BigInt(digits);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`.npy shape has a dimension ${value}, beyond any real array`);
    return Number(value);
  });
}


/**
 * Says how many values are NaN or ±Inf, or undefined when all are finite: a clip with one of them
 * gives NaN logits, which the user should hear about before they are written.
 */
export function nonFiniteReport(data: Float32Array): string | undefined {
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (Number.isNaN(x)) nan++;
    else if (x === Infinity || x === -Infinity) inf++;
  }
  if (!nan && !inf) return undefined;
  const parts = [nan ? `${nan} NaN` : '', inf ? `${inf} infinite` : ''].filter(Boolean).join(' and ');
  return `holds ${parts} value${nan + inf === 1 ? '' : 's'} among ${data.length}; the output would be NaN`;
}

/** float32, C order, format 1.0 (2.0 when the header would not fit in 64 KiB). */
export function writeNpy(shape: number[], data: Float32Array): Uint8Array {
  if (data.length !== numel(shape)) throw new Error(`writeNpy: ${data.length} values for shape ${shapeText(shape)}`);
  const header = npyHeaderBytes('<f4', shape);
  const body = float32ToLE(data);
  const out = new Uint8Array(header.length + body.length);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}

/** The bytes of a .npy header (magic, version, length, dict, padding) for a C-order array; the
 *  data follows it directly. Writers that stream their data write this first. */
export function npyHeaderBytes(descr: string, shape: readonly number[]): Uint8Array {
  const shapeLiteral = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeLiteral}, }`;
  const long = dict.length + 12 > 65535;
  const prefix = long ? 12 : 10;
  // Pad with spaces so that magic + version + length + header is a multiple of 64, ending in '\n'.
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const header = dict + ' '.repeat(total - prefix - dict.length - 1) + '\n';
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = long ? 2 : 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (long) view.setUint32(8, header.length, true);
  else view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  return out;
}
