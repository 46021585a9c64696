// NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// "\x93NUMPY", version, header length (u16 for 1.0, u32 for 2.0/3.0), then a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces to a multiple of
// 64 bytes and ended by '\n'; then the data. We read little-endian float32 and float64 in C order.
import { FormatError, float32FromLE, float32ToLE, float64FromLE, numel, shapeText } from './tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** A parsed .npy header: where the data starts, its dtype descriptor ('<f4', '<i8', '|u1', …) and
 *  shape. Readers that stream (one clip of a large array at a time) need only this and an offset. */
export interface NpyHeader {
  descr: string;
  shape: number[];
  dataStart: number;
}

/** Parses the header from the first bytes of a file (the whole file, or at least its header). */
export function readNpyHeader(bytes: Uint8Array): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new FormatError('not a .npy file (no \\x93NUMPY magic)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new FormatError('.npy file ends inside its header');
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new FormatError(`.npy format version ${major}.${bytes[7]} is not supported (1.0–3.0 are)`);
  }
  if (headerStart + headerLength > bytes.length) throw new FormatError('.npy file ends inside its header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLength));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText_ = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText_ === undefined) {
    throw new FormatError(`.npy header is malformed: ${header.trim()}`);
  }
  if (fortran === 'True') {
    throw new FormatError('.npy array is in Fortran order; save it with np.ascontiguousarray(...) first');
  }
  const shape = shapeText_.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new FormatError(`.npy header has a malformed shape (${shapeText_})`);
  return { descr, shape, dataStart: headerStart + headerLength };
}

export function readNpy(bytes: Uint8Array): { shape: number[]; data: Float32Array } {
  const { descr, shape, dataStart } = readNpyHeader(bytes);
  const count = numel(shape);
  const size = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (!size) {
    throw new FormatError(`.npy dtype '${descr}' is not supported; pstc reads little-endian float32 ('<f4') and float64 ('<f8')`);
  }
  if (bytes.length - dataStart < count * size) {
    throw new FormatError(`.npy data is shorter than its shape ${shapeText(shape)} needs (truncated file?)`);
  }
  const data = size === 4 ? float32FromLE(bytes, dataStart, count) : float64FromLE(bytes, dataStart, count);
  return { shape, data };
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
