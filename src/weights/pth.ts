// PyTorch checkpoints without Python: the zip format torch.save has written since PyTorch 1.6.
// The archive holds `<prefix>/data.pkl` (the object tree, pickled) and `<prefix>/data/<key>`
// (each storage's raw little-endian bytes). Tensors in the pickle are calls of
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …) on persistent ids
// ('storage', torch.FloatStorage, key, location, numel); we read only the storages of the tensors
// we keep, and convert them to float32.
import { unzipSync } from 'fflate';
import { PyGlobal, PyObject, unpickle } from './pickle.js';
import {
  FormatError,
  bfloat16FromLE,
  float16FromLE,
  float32FromLE,
  float64FromLE,
  numel,
  type WeightMap,
} from './tensor.js';

type DType = 'f32' | 'f64' | 'f16' | 'bf16' | 'i64' | 'i32' | 'i16' | 'i8' | 'u8' | 'bool';

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'f32',
  DoubleStorage: 'f64',
  HalfStorage: 'f16',
  BFloat16Storage: 'bf16',
  LongStorage: 'i64',
  IntStorage: 'i32',
  ShortStorage: 'i16',
  CharStorage: 'i8',
  ByteStorage: 'u8',
  BoolStorage: 'bool',
};

const ELEMENT_BYTES: Record<DType, number> = { f32: 4, f64: 8, f16: 2, bf16: 2, i64: 8, i32: 4, i16: 2, i8: 1, u8: 1, bool: 1 };

interface StorageRef {
  key: string;
  dtype: DType;
  /** Elements in the storage, as the persistent id says. */
  size: number;
}

export class TensorRef {
  constructor(
    public readonly storage: StorageRef,
    public readonly offset: number,
    public readonly shape: number[],
    public readonly stride: number[],
  ) {}
}

export interface ReadPthOptions {
  /** Names to leave unread (derived buffers): their storages are never touched. */
  skip?: (name: string) => boolean;
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** The unpickled object tree of a torch.save archive, tensors as TensorRef; plus the archive's prefix. */
export function readPthTree(bytes: Uint8Array): { tree: unknown; prefix: string } {
  if (!isZip(bytes)) {
    const hint = bytes[0] === 0x80 ? ' (this looks like the legacy torch.save format: re-save it with PyTorch ≥ 1.6)' : '';
    throw new FormatError(`not a PyTorch zip checkpoint${hint}`);
  }
  let records: Record<string, Uint8Array>;
  try {
    records = unzipSync(bytes, { filter: (f) => f.name.endsWith('data.pkl') || f.name.endsWith('/byteorder') });
  } catch (e) {
    throw new FormatError(`cannot read the checkpoint's zip archive: ${(e as Error).message}`);
  }
  const pklName = Object.keys(records).filter((n) => n.endsWith('/data.pkl') || n === 'data.pkl').sort((a, b) => a.length - b.length)[0];
  if (!pklName) throw new FormatError('zip archive holds no data.pkl: not a torch.save checkpoint');
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const byteorder = records[`${prefix}byteorder`];
  if (byteorder && new TextDecoder().decode(byteorder).trim() !== 'little') {
    throw new FormatError('checkpoint was saved big-endian; pstc reads little-endian checkpoints only');
  }
  const tree = unpickle(records[pklName]!, { resolveGlobal, persistentLoad });
  return { tree, prefix };
}

export function readPth(bytes: Uint8Array, options: ReadPthOptions = {}): WeightMap {
  const { tree, prefix } = readPthTree(bytes);
  const refs = new Map<string, TensorRef>();
  for (const [name, value] of stateDictOf(tree)) {
    if (typeof name !== 'string' || options.skip?.(name)) continue;
    if (value instanceof TensorRef) refs.set(name, value);
    else if (value instanceof PyObject && String(value.callable).startsWith('torch')) {
      throw new FormatError(`\`${name}\` is a kind of tensor pstc cannot read (${String(value.callable)})`);
    }
  }
  if (!refs.size) throw new FormatError('the checkpoint holds no tensors');

  const wanted = new Set([...refs.values()].map((r) => `${prefix}data/${r.storage.key}`));
  const storageBytes = unzipSync(bytes, { filter: (f) => wanted.has(f.name) });
  const storages = new Map<string, Float32Array>();
  const out: WeightMap = new Map();
  for (const [name, ref] of refs) {
    let values = storages.get(ref.storage.key);
    if (!values) {
      const raw = storageBytes[`${prefix}data/${ref.storage.key}`];
      if (!raw) throw new FormatError(`\`${name}\`: storage ${ref.storage.key} is missing from the archive`);
      values = storageToFloat32(raw, ref.storage, name);
      storages.set(ref.storage.key, values);
    }
    out.set(name, { shape: [...ref.shape], data: gather(values, ref, name) });
  }
  return out;
}

/**
 * The name → tensor dict inside a checkpoint: the top-level dict itself, or (mmaction, timm,
 * DeiT-style training scripts) the one under `state_dict` or `model`, at any depth.
 */
export function stateDictOf(tree: unknown): Map<unknown, unknown> {
  let node = tree;
  for (;;) {
    if (!(node instanceof Map)) throw new FormatError('the checkpoint is not a dict of tensors');
    const inner = ['state_dict', 'model'].map((k) => (node as Map<unknown, unknown>).get(k)).find((v) => v instanceof Map);
    const hasTensors = [...node.values()].some((v) => v instanceof TensorRef);
    if (hasTensors || !inner) return node;
    node = inner;
  }
}

function resolveGlobal(module: string, name: string): ((args: unknown[]) => unknown) | undefined {
  if (module === 'torch' && name in STORAGE_DTYPES) return undefined; // a storage type: used as a name only
  if (module === 'torch._utils' && (name === '_rebuild_tensor_v2' || name === '_rebuild_tensor')) {
    return ([storage, offset, size, stride]) => {
      if (!isStorageRef(storage)) throw new FormatError('malformed checkpoint: a tensor without a storage');
      return new TensorRef(storage, Number(offset), asInts(size), asInts(stride));
    };
  }
  if (module === 'torch._utils' && (name === '_rebuild_parameter' || name === '_rebuild_parameter_with_state')) {
    return ([data]) => data;
  }
  if (module === 'torch._tensor' && name === '_rebuild_from_type_v2') {
    // (func, new_type, args, state): a tensor subclass; rebuild the plain tensor underneath.
    return ([func, , args]) => {
      const f = func instanceof PyGlobal ? resolveGlobal(func.module, func.name) : undefined;
      return f && Array.isArray(args) ? f(args) : new PyObject(func, Array.isArray(args) ? args : []);
    };
  }
  return undefined;
}

function persistentLoad(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage') throw new FormatError('malformed checkpoint: unknown persistent id');
  const [, type, key, , size] = pid;
  const typeName = type instanceof PyGlobal ? type.name : String(type);
  const dtype = STORAGE_DTYPES[typeName];
  if (!dtype) throw new FormatError(`unsupported storage type ${String(type)}`);
  return { key: String(key), dtype, size: Number(size) };
}

function isStorageRef(x: unknown): x is StorageRef {
  return typeof x === 'object' && x !== null && 'key' in x && 'dtype' in x;
}

function asInts(x: unknown): number[] {
  if (!Array.isArray(x)) throw new FormatError('malformed checkpoint: a tensor size or stride is not a tuple');
  return x.map(Number);
}

function storageToFloat32(raw: Uint8Array, storage: StorageRef, name: string): Float32Array {
  const size = ELEMENT_BYTES[storage.dtype];
  const count = Math.floor(raw.length / size);
  switch (storage.dtype) {
    case 'f32': return float32FromLE(raw, 0, count);
    case 'f64': return float64FromLE(raw, 0, count);
    case 'f16': return float16FromLE(raw, 0, count);
    case 'bf16': return bfloat16FromLE(raw, 0, count);
    default: {
      // Integer tensors (index buffers, counters): exact in float32 up to 2^24, which is all we need.
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const at = i * size;
        out[i] =
          storage.dtype === 'i64' ? Number(view.getBigInt64(at, true))
          : storage.dtype === 'i32' ? view.getInt32(at, true)
          : storage.dtype === 'i16' ? view.getInt16(at, true)
          : storage.dtype === 'i8' ? view.getInt8(at)
          : view.getUint8(at);
      }
      if (!count && storage.size) throw new FormatError(`\`${name}\`: its storage is empty`);
      return out;
    }
  }
}

/** Copies a (possibly strided, offset) view out of its storage into a row-major array. */
function gather(storage: Float32Array, ref: TensorRef, name: string): Float32Array {
  const { shape, stride, offset } = ref;
  const count = numel(shape);
  if (stride.length !== shape.length) throw new FormatError(`\`${name}\`: size and stride disagree`);
  if (count === 0) return new Float32Array(0);
  const last = offset + shape.reduce((acc, n, i) => acc + (n - 1) * stride[i]!, 0);
  if (offset < 0 || last >= storage.length) {
    throw new FormatError(`\`${name}\` reads past the end of its storage (truncated file?)`);
  }
  let contiguous = true;
  for (let i = shape.length - 1, expect = 1; i >= 0; expect *= shape[i]!, i--) {
    if (shape[i] !== 1 && stride[i] !== expect) contiguous = false;
  }
  if (contiguous) return storage.slice(offset, offset + count);

  const out = new Float32Array(count);
  const index = new Array<number>(shape.length).fill(0);
  let at = offset;
  for (let i = 0; i < count; i++) {
    out[i] = storage[at]!;
    // Odometer: bump the last axis, carrying into earlier ones.
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      if (++index[axis]! < shape[axis]!) {
        at += stride[axis]!;
        break;
      }
      at -= (shape[axis]! - 1) * stride[axis]!;
      index[axis] = 0;
    }
  }
  return out;
}
