// safetensors: an 8-byte little-endian header length, a JSON header
// { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { … } }, then the raw bytes
// (offsets relative to the end of the header). https://github.com/huggingface/safetensors
import {
  FormatError,
  bfloat16FromLE,
  float16FromLE,
  float32FromLE,
  float32ToLE,
  float64FromLE,
  numel,
  shapeText,
  type WeightMap,
} from './tensor.js';

const FLOAT_READERS: Record<string, [bytesPerElement: number, read: typeof float32FromLE]> = {
  F32: [4, float32FromLE],
  F16: [2, float16FromLE],
  BF16: [2, bfloat16FromLE],
  F64: [8, float64FromLE],
};

export interface ReadOptions {
  /** Names to leave unread (derived buffers): their dtype does not matter then. */
  skip?: (name: string) => boolean;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export function readSafetensorsHeader(bytes: Uint8Array): { entries: Map<string, HeaderEntry>; metadata: Record<string, string>; dataStart: number } {
  if (bytes.length < 8) throw new FormatError('not a safetensors file: shorter than its 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) {
    throw new FormatError(`not a safetensors file: header length ${headerLength} exceeds the file size ${bytes.length}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw new FormatError('not a safetensors file: its header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new FormatError('not a safetensors file: its header is not a JSON object');
  }
  const entries = new Map<string, HeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    const e = value as Partial<HeaderEntry> | null;
    const ok =
      e !== null && typeof e === 'object' && typeof e.dtype === 'string' && Array.isArray(e.shape) &&
      e.shape.every((d) => Number.isInteger(d) && d >= 0) && Array.isArray(e.data_offsets) &&
      e.data_offsets.length === 2 && e.data_offsets.every((o) => Number.isInteger(o) && o >= 0);
    if (!ok) throw new FormatError(`safetensors header: malformed entry for tensor \`${name}\``);
    entries.set(name, e as HeaderEntry);
  }
  return { entries, metadata, dataStart: 8 + headerLength };
}

export function readSafetensors(bytes: Uint8Array, options: ReadOptions = {}): WeightMap {
  const { entries, dataStart } = readSafetensorsHeader(bytes);
  const out: WeightMap = new Map();
  for (const [name, entry] of entries) {
    if (options.skip?.(name)) continue;
    const reader = FLOAT_READERS[entry.dtype];
    if (!reader) {
      throw new FormatError(
        `tensor \`${name}\` has dtype ${entry.dtype}; pstc reads floating-point tensors only (F32, F16, BF16, F64)`,
      );
    }
    const [size, read] = reader;
    const [begin, end] = entry.data_offsets;
    const count = numel(entry.shape);
    if (end - begin !== count * size) {
      throw new FormatError(
        `tensor \`${name}\`: ${end - begin} bytes stored for shape ${shapeText(entry.shape)} of ${entry.dtype} (${count * size} expected)`,
      );
    }
    if (dataStart + end > bytes.length) throw new FormatError(`tensor \`${name}\` lies past the end of the file (truncated?)`);
    out.set(name, { shape: [...entry.shape], data: read(bytes, dataStart + begin, count) });
  }
  return out;
}

/** float32 tensors in map order; the header is padded with spaces to 8 bytes, as the reference writer does. */
export function writeSafetensors(weights: WeightMap, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of weights) {
    if (t.data.length !== numel(t.shape)) {
      throw new Error(`writeSafetensors: \`${name}\` holds ${t.data.length} values for shape ${shapeText(t.shape)}`);
    }
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  let json = JSON.stringify(header);
  const jsonBytes = () => new TextEncoder().encode(json);
  json += ' '.repeat((8 - (jsonBytes().length % 8)) % 8);
  const headerBytes = jsonBytes();
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of weights.values()) {
    out.set(float32ToLE(t.data), at);
    at += t.data.length * 4;
  }
  return out;
}
