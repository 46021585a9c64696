// PyTorch checkpoints without Python: the zip format torch.save has written since PyTorch 1.6.
// The archive holds `<prefix>/data.pkl` (the object tree, pickled) and `<prefix>/data/<key>`
// (each storage's raw little-endian bytes). Tensors in the pickle are calls of
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …) on persistent ids
// ('storage', torch.FloatStorage, key, location, numel).
//
// Reading is in two steps so that a hostile file costs little: indexPth reads the zip directory
// and the pickle (both capped), checks every tensor's view against its storage, and returns
// names and shapes; a tensor's storage is read (and inflated, at most its declared size) only
// when the caller loads it — after it has checked the name and shape against the model.
import { PyGlobal, PyObject, unpickle, type GlobalMeaning } from './pickle.js';
import { bytesSource, type ByteSource } from './source.js';
import {
  FormatError,
  bfloat16FromLE,
  checkName,
  float16FromLE,
  float32FromLE,
  float64FromLE,
  nameText,
  numel,
  numelExact,
  shapeText,
  type StoredTensors,
  type WeightMap,
} from './tensor.js';
import { isZip, readZipDirectory, readZipEntry, type ZipEntry } from './zip.js';

export { isZip } from './zip.js';

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

/** More dimensions than any tensor has (PyTorch's own limit is 64). */
const MAX_RANK = 64;

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

export interface PthLimits {
  /** Most bytes of data.pkl (the object tree); a state dict's is about 100 bytes a tensor. */
  maxPickleBytes?: number;
  /** Most bytes of the zip's central directory. */
  maxDirectoryBytes?: number;
  /** Most bytes of one storage that may be read (or inflated). */
  maxStorageBytes?: number;
}

export interface ReadPthOptions extends PthLimits {
  /** Names to leave unread (derived buffers): their storages are never touched. */
  skip?: (name: string) => boolean;
}

/** Without a model to size them by: generous, but finite. */
const DEFAULT_LIMITS: Required<PthLimits> = { maxPickleBytes: 64 << 20, maxDirectoryBytes: 16 << 20, maxStorageBytes: 2 ** 31 };

/**
 * A raw pickle where a zip should be: torch.save before PyTorch 1.6 (or with
 * `_use_new_zipfile_serialization=False`) wrote the pickle protocol byte first.
 */
export function isLegacyPth(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5;
}

const LEGACY_HINT = 'this is the legacy torch.save format (before PyTorch 1.6): re-save it with torch.save(torch.load(path), path) in PyTorch ≥ 1.6';

/** The unpickled object tree of a torch.save archive, tensors as TensorRef; plus where its storages are. */
export function readPthTree(input: ByteSource | Uint8Array, limits: PthLimits = {}): { tree: unknown; prefix: string; entries: Map<string, ZipEntry> } {
  const source = input instanceof Uint8Array ? bytesSource(input) : input;
  const { maxPickleBytes, maxDirectoryBytes } = { ...DEFAULT_LIMITS, ...limits };
  const head = source.read(0, Math.min(4, source.size));
  if (!isZip(head)) throw new FormatError(`not a PyTorch zip checkpoint${isLegacyPth(head) ? ` (${LEGACY_HINT})` : ''}`);
  const entries = readZipDirectory(source, maxDirectoryBytes);
  const pklName = [...entries.keys()].filter((n) => n.endsWith('/data.pkl') || n === 'data.pkl').sort((a, b) => a.length - b.length)[0];
  if (!pklName) throw new FormatError('zip archive holds no data.pkl: not a torch.save checkpoint');
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder && new TextDecoder().decode(readZipEntry(source, byteorder, 16)).trim() !== 'little') {
    throw new FormatError('checkpoint was saved big-endian; pstc reads little-endian checkpoints only');
  }
  const pickle = readZipEntry(source, entries.get(pklName)!, maxPickleBytes);
  const tree = unpickle(pickle, { resolveGlobal, persistentLoad });
  return { tree, prefix, entries };
}

/**
 * The checkpoint's tensors by name, unread: names, shapes and views are checked here; each
 * tensor's storage is read when it is loaded, at most `maxStorageBytes` of it.
 */
export function indexPth(input: ByteSource | Uint8Array, options: ReadPthOptions = {}): StoredTensors {
  const source = input instanceof Uint8Array ? bytesSource(input) : input;
  const { maxStorageBytes } = { ...DEFAULT_LIMITS, ...options };
  const { tree, prefix, entries } = readPthTree(source, options);
  const refs = new Map<string, TensorRef>();
  for (const [name, value] of stateDictOf(tree)) {
    if (typeof name !== 'string') continue;
    checkName(name);
    if (options.skip?.(name)) continue;
    if (value instanceof TensorRef) refs.set(name, value);
    else if (value instanceof PyObject && String(value.callable).startsWith('torch')) {
      throw new FormatError(`\`${nameText(name)}\` is a kind of tensor pstc cannot read (${String(value.callable)})`);
    }
  }
  if (!refs.size) throw new FormatError('the checkpoint holds no tensors');

  const storages = new Map<string, Float32Array>();
  const storageOf = (name: string, ref: TensorRef): Float32Array => {
    const { key, dtype, size } = ref.storage;
    const cached = storages.get(key);
    if (cached) return cached;
    const bytes = size * ELEMENT_BYTES[dtype];
    if (bytes > maxStorageBytes) {
      const exact = BigInt(size) * BigInt(ELEMENT_BYTES[dtype]);
      throw new FormatError(`\`${nameText(name)}\`: its storage holds ${size} elements (${exact} bytes); more than this model can need (${maxStorageBytes} bytes)`);
    }
    const entry = entries.get(`${prefix}data/${key}`);
    if (!entry) throw new FormatError(`\`${nameText(name)}\`: storage ${nameText(key)} is missing from the archive`);
    if (entry.size !== bytes) {
      throw new FormatError(`\`${nameText(name)}\`: storage ${nameText(key)} holds ${entry.size} bytes; the pickle says ${size} elements of ${dtype} (${bytes} bytes)`);
    }
    const values = storageToFloat32(readZipEntry(source, entry, bytes), ref.storage);
    storages.set(key, values);
    return values;
  };
  const out: StoredTensors = new Map();
  for (const [name, ref] of refs) {
    out.set(name, {
      shape: ref.shape,
      dtype: ref.storage.dtype,
      load: () => {
        const count = numel(ref.shape);
        // A view with more elements than its storage repeats them (stride 0, an expanded tensor):
        // materialising it could cost any amount of memory for a few bytes of file.
        if (count > ref.storage.size) {
          throw new FormatError(
            `\`${nameText(name)}\` ${shapeText(ref.shape)} has ${count} elements but its storage holds ${ref.storage.size} (an expanded, stride-0 view): save tensor.contiguous() instead`,
          );
        }
        return gather(storageOf(name, ref), ref);
      },
    });
  }
  return out;
}

export function readPth(bytes: Uint8Array, options: ReadPthOptions = {}): WeightMap {
  const out: WeightMap = new Map();
  for (const [name, t] of indexPth(bytes, options)) out.set(name, { shape: [...t.shape], data: t.load() });
  return out;
}

/**
 * The name → tensor dict inside a checkpoint: the top-level dict itself, or (mmaction, timm,
 * DeiT-style training scripts) the one under `state_dict` or `model`, at any depth. A dict that
 * contains itself (the pickle memo makes that one opcode) is a malformed checkpoint, not a loop.
 */
export function stateDictOf(tree: unknown): Map<unknown, unknown> {
  const seen = new Set<unknown>();
  let node = tree;
  for (;;) {
    if (!(node instanceof Map)) throw new FormatError('the checkpoint is not a dict of tensors');
    if (seen.has(node)) throw new FormatError('the checkpoint is malformed: its `state_dict`/`model` dicts contain themselves');
    seen.add(node);
    const inner = ['state_dict', 'model'].map((k) => (node as Map<unknown, unknown>).get(k)).find((v) => v instanceof Map);
    const hasTensors = [...node.values()].some((v) => v instanceof TensorRef);
    if (hasTensors || !inner) return node;
    node = inner;
  }
}

const DTYPE_NAMES = new Set(
  ('float32 float float64 double float16 half bfloat16 complex32 chalf complex64 cfloat complex128 cdouble uint8 int8 int16 short ' +
    'int32 int int64 long bool qint8 quint8 qint32 quint4x2 quint2x4 float8_e5m2 float8_e4m3fn float8_e5m2fnuz float8_e4m3fnuz ' +
    'uint16 uint32 uint64 bits1x8 bits2x4 bits4x2 bits8 bits16 per_tensor_affine per_tensor_symmetric per_channel_affine ' +
    'per_channel_symmetric per_channel_affine_float_qparams Size Tensor device')
    .split(' ')
    .concat([1, 2, 3, 4, 5, 6, 7].flatMap((n) => [`int${n}`, `uint${n}`])),
);

/** torch._utils rebuild functions weights_only allows but pstc does not read (quantised, sparse, meta…). */
const OTHER_REBUILDS = new Set([
  '_rebuild_qtensor', '_rebuild_sparse_tensor', '_rebuild_meta_tensor_no_storage', '_rebuild_wrapper_subclass',
  '_rebuild_device_tensor_from_numpy', '_rebuild_device_tensor_from_cpu_tensor',
]);

/**
 * torch.load(weights_only=True)'s allowlist (torch/_weights_only_unpickler.py), torch's part:
 * storage and tensor types, dtypes, layouts, rebuild functions, Parameter. What pstc reads gets a
 * function; the rest stays opaque. Anything else is refused by the pickle machine.
 */
function resolveGlobal(module: string, name: string): GlobalMeaning | undefined {
  if (module === 'torch._utils') {
    if (name === '_rebuild_tensor_v2' || name === '_rebuild_tensor' || name === '_rebuild_tensor_v3') return rebuildTensor;
    if (name === '_rebuild_parameter' || name === '_rebuild_parameter_with_state') return ([data]) => data;
    return OTHER_REBUILDS.has(name) ? 'opaque' : undefined;
  }
  if (module === 'torch.nn.parameter' && name === 'Parameter') return ([data]) => data;
  if (module === 'torch.serialization' && name === '_get_layout') return 'opaque';
  if (module === 'torch._tensor' && name === '_rebuild_from_type_v2') {
    // (func, new_type, args, state): a tensor subclass; rebuild the plain tensor underneath.
    return ([func, , args]) => {
      const f = func instanceof PyGlobal ? resolveGlobal(func.module, func.name) : undefined;
      if (typeof f === 'function' && Array.isArray(args)) return f(args);
      return new PyObject(func, Array.isArray(args) ? args : []);
    };
  }
  if (module === 'torch' && DTYPE_NAMES.has(name)) return 'opaque';
  if (/^torch(\.cuda)?(\.sparse)?$/.test(module) && /^[A-Z][A-Za-z0-9]*(Tensor|Storage)$/.test(name)) return 'opaque';
  if (module === 'torch.storage' && (name === 'TypedStorage' || name === 'UntypedStorage')) return 'opaque';
  return undefined;
}

/** A safe non-negative integer from the pickle, or a FormatError naming what it was. */
function count(x: unknown, what: string): number {
  if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return x;
  if (typeof x === 'bigint') throw new FormatError(`malformed checkpoint: ${what} is ${x}, beyond any real tensor`);
  throw new FormatError(`malformed checkpoint: ${what} is ${typeof x === 'number' ? x : typeof x}, not a non-negative integer`);
}

function counts(x: unknown, what: string): number[] {
  if (!Array.isArray(x)) throw new FormatError(`malformed checkpoint: a tensor's ${what} is not a tuple`);
  if (x.length > MAX_RANK) throw new FormatError(`malformed checkpoint: a tensor's ${what} has ${x.length} dimensions (at most ${MAX_RANK})`);
  return x.map((d) => count(d, `a tensor's ${what}`));
}

/** _rebuild_tensor_v2(storage, offset, size, stride, …): checked against its storage, never read here. */
function rebuildTensor([storage, offset, size, stride]: unknown[]): TensorRef {
  if (!isStorageRef(storage)) throw new FormatError('malformed checkpoint: a tensor without a storage');
  const ref = new TensorRef(storage, count(offset, "a tensor's storage offset"), counts(size, 'size'), counts(stride, 'stride'));
  const { shape } = ref;
  if (ref.stride.length !== shape.length) {
    throw new FormatError(`malformed checkpoint: a tensor of size ${shapeText(shape)} has stride ${shapeText(ref.stride)}`);
  }
  if (shape.every((n) => n > 0)) {
    // The last element it reads, exactly (BigInt: a hostile stride must not round into range).
    const last = shape.reduce((acc, n, i) => acc + BigInt(n - 1) * BigInt(ref.stride[i]!), BigInt(ref.offset));
    if (last >= BigInt(storage.size)) {
      throw new FormatError(
        `malformed checkpoint: a tensor of size ${shapeText(shape)}, stride ${shapeText(ref.stride)} and offset ${ref.offset} reads element ${last} of a storage of ${storage.size}`,
      );
    }
  }
  if (numelExact(shape) > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FormatError(`malformed checkpoint: a tensor of size ${shapeText(shape)} has ${numelExact(shape)} elements`);
  }
  return ref;
}

function persistentLoad(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new FormatError('malformed checkpoint: unknown persistent id');
  const [, type, key, , size] = pid;
  if (!(type instanceof PyGlobal)) throw new FormatError('malformed checkpoint: a storage without a type');
  const dtype = STORAGE_DTYPES[type.name];
  if (!dtype) throw new FormatError(`unsupported storage type ${nameText(String(type))}`);
  if (typeof key !== 'string' && typeof key !== 'number') throw new FormatError('malformed checkpoint: a storage key is not a string');
  return { key: String(key), dtype, size: count(size, 'a storage size') };
}

function isStorageRef(x: unknown): x is StorageRef {
  return typeof x === 'object' && x !== null && 'key' in x && 'dtype' in x && 'size' in x;
}

function storageToFloat32(raw: Uint8Array, storage: StorageRef): Float32Array {
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
      return out;
    }
  }
}

/** Copies a (possibly strided, offset) view out of its storage into a row-major array; bounds were checked at rebuild. */
function gather(storage: Float32Array, ref: TensorRef): Float32Array {
  const { shape, stride, offset } = ref;
  const count = numel(shape);
  if (count === 0) return new Float32Array(0);
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
