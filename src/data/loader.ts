// Batches for training and evaluation. The order of an epoch is a pure function of (seed, epoch)
// (file order without shuffle), so a run resumed at (epoch, batch) reads exactly the batches an
// uninterrupted run would have read from there on.
import { makeRandom } from '../weights/init.js';
import { clipLength, type Dataset } from './dataset.js';

export interface LoaderOptions {
  batchSize: number;
  /** Shuffle every epoch (from seed and epoch); false reads in file order. */
  shuffle?: boolean;
  seed?: number;
  /** Drop the last, partial batch of an epoch (training usually does); false keeps it. */
  dropLast?: boolean;
  /** Clips read at once while a batch is assembled (reads are asynchronous). */
  concurrency?: number;
}

export interface Batch {
  /** N×C×T×H×W, the clips in order. N = batchSize except for a kept last partial batch. */
  clips: Float32Array;
  labels: Int32Array;
  /** The dataset index of each clip. */
  indices: Int32Array;
  epoch: number;
  /** This batch's position within its epoch. */
  batch: number;
}

/** Where a loader starts: a batch of an epoch (both from 0). */
export interface LoaderPosition {
  epoch: number;
  batch: number;
}

export class Loader {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  private readonly concurrency: number;

  constructor(
    readonly dataset: Dataset,
    options: LoaderOptions,
  ) {
    if (!Number.isSafeInteger(options.batchSize) || options.batchSize < 1) throw new RangeError(`Loader: batch size ${options.batchSize} is not a positive integer`);
    this.batchSize = options.batchSize;
    this.shuffle = options.shuffle ?? false;
    this.seed = options.seed ?? 0;
    this.dropLast = options.dropLast ?? false;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
  }

  /** Batches in one epoch (0 when dropLast and the dataset is smaller than one batch). */
  get batchesPerEpoch(): number {
    const n = this.dataset.size;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The dataset indices of an epoch, in the order they are read. */
  order(epoch: number): Int32Array {
    const n = this.dataset.size;
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    if (!this.shuffle) return order;
    // Fisher–Yates from a stream of its own per epoch: epoch e's order never depends on e − 1's.
    const random = makeRandom(this.seed, `loader/epoch/${epoch}`);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    return order;
  }

  /** Batch `batch` of epoch `epoch`. */
  async batchAt(epoch: number, batch: number, order: Int32Array = this.order(epoch)): Promise<Batch> {
    if (!Number.isInteger(batch) || batch < 0 || batch >= this.batchesPerEpoch) throw new RangeError(`batch ${batch} outside 0…${this.batchesPerEpoch - 1} of an epoch`);
    const indices = order.slice(batch * this.batchSize, Math.min(order.length, (batch + 1) * this.batchSize));
    const length = clipLength(this.dataset.clipShape);
    const clips = new Float32Array(indices.length * length);
    const labels = new Int32Array(indices.length);
    for (let start = 0; start < indices.length; start += this.concurrency) {
      const part = Array.from(indices.subarray(start, start + this.concurrency));
      const samples = await Promise.all(part.map((i) => this.dataset.read(i, epoch)));
      samples.forEach((s, k) => {
        if (s.clip.length !== length) throw new Error(`${this.dataset.name}: clip ${part[k]} has ${s.clip.length} values, expected ${length}`);
        clips.set(s.clip, (start + k) * length);
        labels[start + k] = s.label;
      });
    }
    return { clips, labels, indices, epoch, batch };
  }

  /** The batches of one epoch from `fromBatch` on. The next batch is read while the caller works
   *  on the current one (one batch ahead: memory stays bounded). */
  async *epoch(epoch: number, fromBatch = 0): AsyncGenerator<Batch> {
    const order = this.order(epoch);
    const count = this.batchesPerEpoch;
    const start = (b: number) => {
      if (b >= count) return undefined;
      const pending = this.batchAt(epoch, b, order);
      pending.catch(() => undefined); // a caller that stops early must not leave an unhandled rejection
      return pending;
    };
    let next = start(fromBatch);
    for (let b = fromBatch; b < count; b++) {
      const current = next!;
      next = start(b + 1);
      yield await current;
    }
  }

  /** Batches from a position on, epoch after epoch, without end (the caller counts steps). */
  async *from(position: LoaderPosition = { epoch: 0, batch: 0 }): AsyncGenerator<Batch> {
    if (this.batchesPerEpoch === 0) throw new RangeError(`${this.dataset.name} has ${this.dataset.size} clips: fewer than one batch of ${this.batchSize}`);
    for (let e = position.epoch; ; e++) yield* this.epoch(e, e === position.epoch ? position.batch : 0);
  }

  /** The position after a batch, for a checkpoint: the next batch, or the next epoch's first. */
  next(position: LoaderPosition): LoaderPosition {
    return position.batch + 1 < this.batchesPerEpoch ? { epoch: position.epoch, batch: position.batch + 1 } : { epoch: position.epoch + 1, batch: 0 };
  }
}
