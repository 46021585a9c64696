// Tensors as the weights module holds them: float32 in memory, row-major, whatever the file held.
// Also the byte-level conversions the file readers share (half, bfloat16, double → float32).

export interface TensorData {
  shape: number[];
  data: Float32Array;
}

/** Named tensors; iteration order is meaningful (the reference state dict's order where we make one). */
export type WeightMap = Map<string, TensorData>;

/**
 * A file that is not what it claims to be (truncated, wrong dtype, bad header). Readers throw this;
 * callers that know which flag named the file turn it into a Diagnostic.
 */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

/**
 * A tensor a checkpoint declares, not yet read: its name and shape are checked against the model
 * before `load` touches (or decompresses, or gathers) any of its data.
 */
export interface StoredTensor {
  shape: number[];
  /** The file's own name for the element type (F32, f16, …), for messages. */
  dtype: string;
  /** Reads and converts the data; throws FormatError when it cannot (e.g. an integer dtype). */
  load(): Float32Array;
}

export type StoredTensors = Map<string, StoredTensor>;

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The exact element count, however large (messages must not print 2^60 as 1152921504606847000). */
export function numelExact(shape: readonly number[]): bigint {
  return shape.reduce((a, b) => a * BigInt(b), 1n);
}

/** Dimensions are safe integers by the time a shape exists (readers check), so join prints them exactly. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Longest tensor name a reader accepts: real names are under 100 characters. */
export const MAX_NAME_LENGTH = 1024;

/** A name as messages show it: long ones clipped, control characters escaped. */
export function nameText(name: string): string {
  const shown = name.length > 80 ? `${name.slice(0, 60)}… (${name.length} characters)` : name;
  return shown.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Refuses names no model has: too long to be a parameter name. */
export function checkName(name: string): void {
  if (name.length > MAX_NAME_LENGTH) {
    throw new FormatError(`a tensor name is ${name.length} characters long (\`${nameText(name)}\`); names longer than ${MAX_NAME_LENGTH} are refused`);
  }
}

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reads `count` little-endian float32 values starting at byte `offset` (any alignment). */
export function float32FromLE(bytes: Uint8Array, offset: number, count: number): Float32Array {
  if (hostIsLittleEndian) {
    // slice() copies into a fresh, aligned buffer: the source offset may not be a multiple of 4.
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + count * 4));
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 4);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

export function float64FromLE(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 8);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/** IEEE half → float32, subnormals, infinities and NaN included. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function float16FromLE(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 2);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  return out;
}

/** bfloat16 is the top half of a float32: shift it back into place. */
export function bfloat16FromLE(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 2);
  const bits = new Uint32Array(count);
  for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
  return new Float32Array(bits.buffer);
}

/** The bytes of a float32 array, little-endian, in a buffer of their own. */
export function float32ToLE(data: Float32Array): Uint8Array {
  if (hostIsLittleEndian) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}
