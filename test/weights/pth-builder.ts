// Hand-made torch.save archives, malformed on purpose: a pickle writer for the few opcodes a state
// dict uses (protocol 2, as torch.save writes) and a zip of its entries. Real PyTorch files come
// from tools/make_pth_fixtures.py; these are the ones PyTorch would never write.
import { deflateRawSync } from 'node:zlib';

/** A pickle, opcode by opcode. */
export class PickleWriter {
  private readonly bytes: number[] = [0x80, 0x02];

  raw(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  /** Many bytes at once (raw() spreads its arguments: fine for a few, not for a megabyte). */
  block(b: Uint8Array): this {
    for (const x of b) this.bytes.push(x);
    return this;
  }
  str(s: string): this {
    const utf8 = new TextEncoder().encode(s);
    this.raw(0x58, ...u32(utf8.length));
    for (const b of utf8) this.bytes.push(b); // not spread: names may be a million characters
    return this;
  }
  int(n: number): this {
    return this.raw(0x4a, ...new Uint8Array(new Int32Array([n]).buffer));
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...ascii(`${module}\n${name}\n`));
  }
  mark(): this {
    return this.raw(0x28);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  ints(xs: number[]): this {
    this.mark();
    for (const x of xs) this.int(x);
    return this.tuple();
  }
  /** torch._utils._rebuild_tensor_v2(storage('key', FloatStorage, numel), offset, size, stride, False, OrderedDict()) */
  tensor(t: TensorSpec): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', t.storageType ?? 'FloatStorage').str(t.key).str('cpu').int(t.storageSize).tuple().raw(0x51);
    this.int(t.offset ?? 0).ints(t.size).ints(t.stride ?? contiguousStride(t.size)).raw(0x89);
    this.global('collections', 'OrderedDict').raw(0x29, 0x52);
    return this.tuple().raw(0x52);
  }
  /** A dict of name → value, where each value is written by its function. */
  dict(entries: [string, (p: PickleWriter) => void][]): this {
    this.raw(0x7d).mark();
    for (const [name, value] of entries) {
      this.str(name);
      value(this);
    }
    return this.raw(0x75);
  }
  stop(): Uint8Array {
    return Uint8Array.from([...this.bytes, 0x2e]);
  }
  /** The bytes written so far, without STOP (for prefixes). */
  body(): number[] {
    return [...this.bytes];
  }
}

export interface TensorSpec {
  key: string;
  storageSize: number;
  size: number[];
  stride?: number[];
  offset?: number;
  storageType?: string;
}

export function contiguousStride(size: number[]): number[] {
  const out = new Array<number>(size.length);
  for (let i = size.length - 1, s = 1; i >= 0; s *= size[i]!, i--) out[i] = s;
  return out;
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

export interface RawEntry {
  name: string;
  /** The bytes as stored: already compressed when method is 8. */
  data: Uint8Array;
  method: 0 | 8;
  /** The uncompressed size the archive declares (a lie, when a test wants one). */
  size: number;
}

/** A zip of entries exactly as given (no CRCs: pstc does not check them), with a central directory. */
export function zipEntries(entries: RawEntry[]): Uint8Array {
  const le = (n: number, bytes: number) => Array.from({ length: bytes }, (_, i) => Math.floor(n / 2 ** (8 * i)) & 0xff);
  const locals: Uint8Array[] = [];
  const central: number[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const common = [...le(20, 2), ...le(0, 2), ...le(e.method, 2), ...le(0, 4), ...le(0, 4), ...le(e.data.length, 4), ...le(e.size, 4), ...le(name.length, 2), ...le(0, 2)];
    const header = Uint8Array.from([...le(0x04034b50, 4), ...common, ...name]);
    central.push(...le(0x02014b50, 4), ...le(20, 2), ...common, ...le(0, 2), ...le(0, 2), ...le(0, 2), ...le(0, 4), ...le(offset, 4), ...name);
    locals.push(header, e.data);
    offset += header.length + e.data.length;
  }
  const end = [...le(0x06054b50, 4), ...le(0, 4), ...le(entries.length, 2), ...le(entries.length, 2), ...le(central.length, 4), ...le(offset, 4), ...le(0, 2)];
  const out = new Uint8Array(offset + central.length + end.length);
  let at = 0;
  for (const part of [...locals, Uint8Array.from(central), Uint8Array.from(end)]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A torch.save archive: `archive/data.pkl`, `archive/byteorder`, and `archive/data/<key>` per storage. */
export function pthArchive(pickle: Uint8Array, storages: Record<string, Float32Array | Uint8Array>, deflate = false): Uint8Array {
  const entries: RawEntry[] = [
    { name: 'archive/data.pkl', data: pickle, method: 0, size: pickle.length },
    { name: 'archive/byteorder', data: new TextEncoder().encode('little'), method: 0, size: 6 },
  ];
  for (const [key, data] of Object.entries(storages)) {
    const bytes = data instanceof Float32Array ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data;
    entries.push(
      deflate
        ? { name: `archive/data/${key}`, data: deflateRawSync(bytes), method: 8, size: bytes.length }
        : { name: `archive/data/${key}`, data: bytes, method: 0, size: bytes.length },
    );
  }
  return zipEntries(entries);
}

/** A state dict of float32 tensors, each in its own contiguous storage: what torch.save would write. */
export function statePth(weights: Map<string, { shape: number[]; data: Float32Array }>, tweak: Partial<Record<string, Partial<TensorSpec>>> = {}): Uint8Array {
  const storages: Record<string, Float32Array> = {};
  const entries: [string, (p: PickleWriter) => void][] = [];
  let key = 0;
  for (const [name, t] of weights) {
    const k = String(key++);
    storages[k] = t.data;
    entries.push([name, (p) => p.tensor({ key: k, storageSize: t.data.length, size: t.shape, ...tweak[name] })]);
  }
  return pthArchive(new PickleWriter().dict(entries).stop(), storages);
}
