// `npy:CLIPS.npy,LABELS.npy`: clips read one at a time from the file at their offset (never the
// whole array), labels read whole (N integers) and checked against the model's head on open.
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { readRegularFile } from '../lang/read-file.js';
import { FormatError, float32FromLE, float64FromLE } from '../weights/tensor.js';
import { readNpyHeader, type NpyHeader } from '../weights/npy.js';
import { clipLength, clipShapeText, type ClipSample, type Dataset, type DataInput } from './dataset.js';
import { dataError } from './errors.js';

/** Integer dtypes a labels file may hold (NumPy's descr strings), with their byte size and reader. */
const LABEL_DTYPES: Record<string, { size: number; get: (v: DataView, at: number) => number }> = {
  '<i8': { size: 8, get: (v, at) => Number(v.getBigInt64(at, true)) },
  '<u8': { size: 8, get: (v, at) => Number(v.getBigUint64(at, true)) },
  '<i4': { size: 4, get: (v, at) => v.getInt32(at, true) },
  '<u4': { size: 4, get: (v, at) => v.getUint32(at, true) },
  '<i2': { size: 2, get: (v, at) => v.getInt16(at, true) },
  '<u2': { size: 2, get: (v, at) => v.getUint16(at, true) },
  '|i1': { size: 1, get: (v, at) => v.getInt8(at) },
  '|u1': { size: 1, get: (v, at) => v.getUint8(at) },
};

function fileError(path: string, e: unknown): never {
  if (e instanceof FormatError) throw dataError('PST602', `${path}: ${e.message}`, { where: path });
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
  throw dataError('PST602', `cannot read ${path}: ${why}`, { where: path, hint: 'check the path in --data npy:CLIPS.npy,LABELS.npy' });
}

/** The largest labels file read (16M int64 labels). */
const MAX_LABEL_FILE_BYTES = 128 * 1024 * 1024;

/** Reads a labels .npy: a 1-D (or N×1) integer array. */
export async function readNpyLabels(path: string): Promise<Int32Array> {
  let bytes: Uint8Array;
  let header: NpyHeader;
  try {
    // Bounded: a regular file of at most 8 bytes per label of a million-clip set and then some.
    const read = readRegularFile(path, MAX_LABEL_FILE_BYTES);
    if ('unreadable' in read) throw Object.assign(new Error(read.unreadable), read.code ? { code: read.code } : {});
    if ('refused' in read) throw new Error(read.refused);
    bytes = read.bytes;
    header = readNpyHeader(bytes);
  } catch (e) {
    fileError(path, e);
  }
  const dtype = LABEL_DTYPES[header.descr === '<i1' ? '|i1' : header.descr === '<u1' ? '|u1' : header.descr];
  if (!dtype) {
    throw dataError('PST605', `${path} holds '${header.descr}' values; labels must be integers (int64, int32, int16, int8, uint8 …)`, {
      where: path,
      hint: 'save them with np.save(path, labels.astype(np.int64))',
    });
  }
  const { shape } = header;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    throw dataError('PST605', `${path} has shape [${shape.join(', ')}]; labels must be one integer per clip, shape [N]`, { where: path });
  }
  const n = shape[0]!;
  if (bytes.length - header.dataStart < n * dtype.size) fileError(path, new FormatError(`data is shorter than its shape [${shape.join(', ')}] needs (truncated file?)`));
  const view = new DataView(bytes.buffer, bytes.byteOffset + header.dataStart, n * dtype.size);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = dtype.get(view, i * dtype.size);
    if (v < 0 || v > 0x7fffffff) {
      throw dataError('PST604', `${path}: label ${v} of clip ${i} is not a class number (0…2147483647)`, { where: path, hint: 'labels are class indices 0…classes−1' });
    }
    labels[i] = v;
  }
  return labels;
}

/** Reads the header of a clips file without reading its data. */
async function readClipsHeader(file: FileHandle, path: string): Promise<NpyHeader> {
  try {
    const start = new Uint8Array(12);
    const { bytesRead } = await file.read(start, 0, 12, 0);
    const prefix = start.subarray(0, bytesRead);
    // The header length field says how much more to read; readNpyHeader reports a bad magic.
    const headerLength = bytesRead >= 10 && prefix[6] === 1 ? 10 + (prefix[8]! | (prefix[9]! << 8)) : bytesRead >= 12 ? 12 + new DataView(start.buffer).getUint32(8, true) : bytesRead;
    const whole = new Uint8Array(Math.min(headerLength, 1 << 24));
    const { bytesRead: got } = await file.read(whole, 0, whole.length, 0);
    return readNpyHeader(whole.subarray(0, got));
  } catch (e) {
    fileError(path, e);
  }
}

export class NpyDataset implements Dataset {
  readonly classNames = undefined;
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly file: FileHandle,
    private readonly header: NpyHeader,
    private readonly labels: Int32Array,
    readonly classes: number,
    readonly clipShape: readonly [number, number, number, number],
  ) {}

  get size(): number {
    return this.labels.length;
  }

  /** Opens the pair and checks it: clips N×C×T×H×W float32 (or float64), N labels in range of the
   *  model's head (when it has one), the file long enough for every clip. */
  static async open(clipsPath: string, labelsPath: string, input?: DataInput): Promise<NpyDataset> {
    const labels = await readNpyLabels(labelsPath);
    let file: FileHandle;
    try {
      // O_NONBLOCK: a FIFO opens at once and is refused below rather than blocking the open.
      file = await open(clipsPath, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
    } catch (e) {
      fileError(clipsPath, e);
    }
    try {
      if (!(await file.stat()).isFile()) fileError(clipsPath, new Error('it is not a regular file (a device, a FIFO or a socket)'));
      const header = await readClipsHeader(file, clipsPath);
      const valueSize = header.descr === '<f4' ? 4 : header.descr === '<f8' ? 8 : 0;
      if (!valueSize) {
        throw dataError('PST605', `${clipsPath} holds '${header.descr}' values; clips must be float32 ('<f4') or float64`, {
          where: clipsPath,
          hint: 'save them with np.save(path, clips.astype(np.float32))',
        });
      }
      if (header.shape.length !== 5) {
        throw dataError('PST603', `${clipsPath} has shape [${header.shape.join(', ')}]; clips must be 5-D, N×C×T×H×W`, { where: clipsPath });
      }
      const [n, ...clip] = header.shape as [number, number, number, number, number];
      if (n !== labels.length) {
        throw dataError('PST605', `${clipsPath} has ${n} clips but ${labelsPath} has ${labels.length} labels`, {
          where: clipsPath,
          hint: 'the two files must describe the same clips, in the same order',
        });
      }
      const { size: fileSize } = await file.stat();
      if (fileSize < header.dataStart + n * clipLength(clip) * valueSize) {
        fileError(clipsPath, new FormatError(`data is shorter than its shape [${header.shape.join(', ')}] needs (truncated file?)`));
      }
      let maxLabel = -1;
      for (let i = 0; i < labels.length; i++) {
        const label = labels[i]!;
        const limit = input?.classes ?? Infinity;
        if (label < 0 || label >= limit) {
          throw dataError('PST604', `${labelsPath}: label ${label} of clip ${i} is outside the model's ${limit} classes (0…${limit - 1})`, {
            where: labelsPath,
            hint: 'labels count from 0; give the model as many classes as the data has (--set head.classes=N)',
          });
        }
        maxLabel = Math.max(maxLabel, label);
      }
      const classes = input?.classes ?? maxLabel + 1;
      return new NpyDataset(clipsPath, file, header, labels, classes, clip as [number, number, number, number]);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  async read(index: number): Promise<ClipSample> {
    if (this.closed) throw new Error(`NpyDataset ${this.name}: read after close`);
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new RangeError(`clip index ${index} outside 0…${this.size - 1}`);
    const count = clipLength(this.clipShape);
    const valueSize = this.header.descr === '<f4' ? 4 : 8;
    const bytes = new Uint8Array(count * valueSize);
    const { bytesRead } = await this.file.read(bytes, 0, bytes.length, this.header.dataStart + index * bytes.length);
    if (bytesRead !== bytes.length) {
      throw dataError('PST602', `${this.name}: clip ${index} (${clipShapeText(this.clipShape)}) ends early; was the file truncated while in use?`, { where: this.name });
    }
    const clip = valueSize === 4 ? float32FromLE(bytes, 0, count) : float64FromLE(bytes, 0, count);
    return { clip, label: this.labels[index]! };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }
}
