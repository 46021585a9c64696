// safetensors: an 8-byte little-endian header length, a JSON header
// { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { … } }, then the raw bytes
// (offsets relative to the end of the header). https://github.com/huggingface/safetensors
import { bytesSource, type ByteSource } from './source.js';
import {
  FormatError,
  bfloat16FromLE,
  checkName,
  float16FromLE,
  float32FromLE,
  float32ToLE,
  float64FromLE,
  nameText,
  numel,
  numelExact,
  shapeText,
  type StoredTensors,
  type WeightMap,
} from './tensor.js';

const FLOAT_READERS: Record<string, typeof float32FromLE> = {
  F32: float32FromLE,
  F16: float16FromLE,
  BF16: bfloat16FromLE,
  F64: float64FromLE,
};

/** Bytes per element of every dtype the format defines: sizes are checked for tensors we skip too. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

/** More dimensions than any tensor has. */
const MAX_RANK = 64;

export interface SafetensorsLimits {
  /** Most bytes of JSON header to parse; the format itself allows 100 MB. */
  maxHeaderBytes?: number;
}

export interface ReadOptions extends SafetensorsLimits {
  /** Names to leave unread (derived buffers): their dtype does not matter then. */
  skip?: (name: string) => boolean;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** A JSON number that is not a safe count, shown honestly (JSON.parse has already rounded it). */
function countText(x: unknown): string {
  return typeof x === 'number' && Number.isInteger(x) && !Number.isSafeInteger(x) ? `${BigInt(x)} (beyond 2^53)` : JSON.stringify(x) ?? String(x);
}

/**
 * The header, checked whole before any tensor is read: every entry well-formed, byte counts that
 * match shapes and dtypes, and offsets that tile the data exactly — sorted, no overlap, no gap,
 * nothing past the end of the file (the format's rules; the reference implementation refuses the same).
 */
export function readSafetensorsHeader(input: ByteSource | Uint8Array, limits: SafetensorsLimits = {}): {
  entries: Map<string, HeaderEntry>;
  metadata: Record<string, string>;
  dataStart: number;
} {
  const source = input instanceof Uint8Array ? bytesSource(input) : input;
  const maxHeaderBytes = limits.maxHeaderBytes ?? 100_000_000;
  if (source.size < 8) throw new FormatError('not a safetensors file: shorter than its 8-byte header length');
  const lengthBytes = source.read(0, 8);
  const headerLength = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(source.size - 8)) {
    throw new FormatError(`not a safetensors file: header length ${headerLength} exceeds the file size ${source.size}`);
  }
  if (headerLength > BigInt(maxHeaderBytes)) {
    throw new FormatError(`safetensors header is ${headerLength} bytes; pstc reads at most ${maxHeaderBytes} (far more than this model's tensors need)`);
  }
  const headerBytes = source.read(8, Number(headerLength));
  if (headerBytes[0] !== 0x7b) throw new FormatError('not a safetensors file: its header does not start with `{`');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch {
    throw new FormatError('not a safetensors file: its header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new FormatError('not a safetensors file: its header is not a JSON object');
  }
  const dataStart = 8 + Number(headerLength);
  const dataSize = source.size - dataStart;
  const entries = new Map<string, HeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value !== null && (typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string'))) {
        throw new FormatError('safetensors header: `__metadata__` is not a map of strings');
      }
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    checkName(name);
    const shown = nameText(name);
    const e = value as Partial<HeaderEntry> | null;
    if (e === null || typeof e !== 'object' || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
      throw new FormatError(`safetensors header: the entry for tensor \`${shown}\` needs a dtype, a shape and data_offsets`);
    }
    const size = DTYPE_BYTES[e.dtype];
    if (!size) throw new FormatError(`safetensors header: tensor \`${shown}\` has an unknown dtype \`${nameText(e.dtype)}\``);
    if (e.shape.length > MAX_RANK) throw new FormatError(`safetensors header: tensor \`${shown}\` has ${e.shape.length} dimensions (at most ${MAX_RANK})`);
    const badDim = e.shape.find((d) => !isCount(d));
    if (badDim !== undefined) {
      throw new FormatError(`safetensors header: tensor \`${shown}\` has a dimension ${countText(badDim)}; dimensions are non-negative integers`);
    }
    const offsets = e.data_offsets;
    if (offsets.length !== 2 || !offsets.every(isCount) || offsets[0]! > offsets[1]!) {
      throw new FormatError(`safetensors header: tensor \`${shown}\` has data_offsets ${offsets.map(countText).join(', ')}; expected [begin, end] with begin ≤ end`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = numelExact(e.shape) * BigInt(size);
    if (BigInt(end - begin) !== expected) {
      throw new FormatError(
        `safetensors header: tensor \`${shown}\` stores ${end - begin} bytes for shape ${shapeText(e.shape)} of ${e.dtype} (${expected} expected)`,
      );
    }
    if (end > dataSize) throw new FormatError(`tensor \`${shown}\` lies past the end of the file (bytes ${begin}–${end} of ${dataSize}; truncated?)`);
    entries.set(name, { dtype: e.dtype, shape: e.shape, data_offsets: [begin, end] });
  }
  checkTiling(entries, dataSize);
  return { entries, metadata, dataStart };
}

/** The data must be covered exactly once: offsets sorted by begin run 0 → end of file without overlap or gap. */
function checkTiling(entries: Map<string, HeaderEntry>, dataSize: number): void {
  const sorted = [...entries].sort(([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0] || a.data_offsets[1] - b.data_offsets[1]);
  let at = 0;
  let previous: string | undefined;
  for (const [name, { data_offsets: [begin, end] }] of sorted) {
    if (begin < at) {
      throw new FormatError(`safetensors header: tensor \`${nameText(name)}\` (bytes ${begin}–${end}) overlaps \`${nameText(previous!)}\`; the format forbids overlapping tensors`);
    }
    if (begin > at) throw new FormatError(`safetensors header: bytes ${at}–${begin} of the data belong to no tensor (before \`${nameText(name)}\`); the format forbids gaps`);
    at = end;
    previous = name;
  }
  if (at !== dataSize) throw new FormatError(`safetensors file: ${dataSize - at} bytes after the last tensor belong to no tensor`);
}

/** The file's tensors by name, unread; each is read (its byte range only) when loaded. */
export function indexSafetensors(input: ByteSource | Uint8Array, limits: SafetensorsLimits = {}): StoredTensors {
  const source = input instanceof Uint8Array ? bytesSource(input) : input;
  const { entries, dataStart } = readSafetensorsHeader(source, limits);
  const out: StoredTensors = new Map();
  for (const [name, entry] of entries) {
    out.set(name, {
      shape: entry.shape,
      dtype: entry.dtype,
      load: () => {
        const read = FLOAT_READERS[entry.dtype];
        if (!read) {
          throw new FormatError(`tensor \`${nameText(name)}\` has dtype ${entry.dtype}; pstc reads floating-point tensors only (F32, F16, BF16, F64)`);
        }
        const [begin, end] = entry.data_offsets;
        return read(source.read(dataStart + begin, end - begin), 0, numel(entry.shape));
      },
    });
  }
  return out;
}

export function readSafetensors(bytes: Uint8Array, options: ReadOptions = {}): WeightMap {
  const out: WeightMap = new Map();
  for (const [name, t] of indexSafetensors(bytes, options)) {
    if (!options.skip?.(name)) out.set(name, { shape: [...t.shape], data: t.load() });
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
