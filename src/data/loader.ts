// Batches for training and evaluation. The order of an epoch is a pure function of (seed, epoch)
// (file order without shuffle), so a run resumed at (epoch, batch) reads exactly the batches an
// uninterrupted run would have read from there on. With `workers`, clips are decoded in worker
// threads (decode-pool.ts) and batches are read `prefetch` ahead of the caller; which thread reads
// a clip changes no bit of it.
import { makeRandom } from '../weights/init.js';
import { clipLength, type ClipSample, type Dataset, type SkippedSample } from './dataset.js';
import { DecodePool } from './decode-pool.js';

export interface LoaderOptions {
  batchSize: number;
  /** Shuffle every epoch (from seed and epoch); false reads in file order. */
  shuffle?: boolean;
  seed?: number;
  /** Drop the last, partial batch of an epoch (training usually does); false keeps it. */
  dropLast?: boolean;
  /** Clips read at once while a batch is assembled on this thread (reads are asynchronous). */
  concurrency?: number;
  /** Worker threads that decode and augment clips (0, the default: on this thread). Needs a
   *  dataset from openData, which carries the recipe a worker opens it again from; a dataset
   *  without one is read on this thread. */
  workers?: number;
  /** Batches read ahead of the one the caller holds (default 1; 2 with workers). Memory: about
   *  prefetch + 1 batches of clips. */
  prefetch?: number;
  /** Where workers' `--skip-bad` lines go. */
  log?: (message: string) => void;
  /** Data-parallel training: read only slice `index` of `count` equal slices of every batch. The
   *  batches (their positions, epochs, order) stay those of the whole batch size, so the ranks
   *  together read what one loader of the whole batch reads. batchSize must divide by count. */
  shard?: { index: number; count: number };
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
  /** With `--skip-bad`, present when some row's own sample was bad: per row, that sample (the
   *  row then holds another sample's clip, read in its place), else undefined. */
  skipped?: (SkippedSample | undefined)[];
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
  readonly prefetch: number;
  private readonly concurrency: number;
  private readonly pool: DecodePool | undefined;
  private readonly shard: { index: number; count: number } | undefined;

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
    const workers = options.workers ?? 0;
    if (!Number.isSafeInteger(workers) || workers < 0) throw new RangeError(`Loader: ${workers} workers`);
    this.pool = workers > 0 && dataset.recipe ? new DecodePool(dataset.recipe, { workers, ...(options.log ? { log: options.log } : {}) }) : undefined;
    this.prefetch = Math.max(1, options.prefetch ?? (this.pool ? 2 : 1));
    const shard = options.shard;
    if (shard && (!Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count || this.batchSize % shard.count !== 0)) {
      throw new RangeError(`Loader: shard ${shard.index} of ${shard.count} does not split batches of ${this.batchSize}`);
    }
    this.shard = shard;
  }

  /** Worker threads decoding for this loader (0: reads on this thread). */
  get workers(): number {
    return this.pool?.workers ?? 0;
  }

  /** Stops the worker threads (if any). Batches still pending are refused. */
  async close(): Promise<void> {
    await this.pool?.close();
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
    const first = batch * this.batchSize;
    const whole = order.slice(first, Math.min(order.length, first + this.batchSize));
    const part = this.shard ? this.batchSize / this.shard.count : 0;
    const indices = this.shard ? whole.slice(this.shard.index * part, (this.shard.index + 1) * part) : whole;
    const length = clipLength(this.dataset.clipShape);
    const clips = new Float32Array(indices.length * length);
    const labels = new Int32Array(indices.length);
    let skipped: (SkippedSample | undefined)[] | undefined;
    const place = (samples: ClipSample[], start: number) =>
      samples.forEach((s, k) => {
        if (s.clip.length !== length) throw new Error(`${this.dataset.name}: clip ${indices[start + k]} has ${s.clip.length} values, expected ${length}`);
        clips.set(s.clip, (start + k) * length);
        labels[start + k] = s.label;
        if (s.skipped) (skipped ??= new Array<SkippedSample | undefined>(indices.length).fill(undefined))[start + k] = s.skipped;
      });
    if (this.pool) {
      // The pool bounds how many clips are decoded at once; all of the batch is queued.
      const pool = this.pool;
      place(await Promise.all(Array.from(indices, (i) => pool.read(i, epoch))), 0);
    } else {
      for (let start = 0; start < indices.length; start += this.concurrency) {
        const part = Array.from(indices.subarray(start, start + this.concurrency));
        place(await Promise.all(part.map((i) => this.dataset.read(i, epoch))), start);
      }
    }
    return { clips, labels, indices, epoch, batch, ...(skipped ? { skipped } : {}) };
  }

  /** The batches of one epoch from `fromBatch` on. The next `prefetch` batches are read while the
   *  caller works on the current one (a bounded queue: memory stays bounded). */
  async *epoch(epoch: number, fromBatch = 0): AsyncGenerator<Batch> {
    const order = this.order(epoch);
    const count = this.batchesPerEpoch;
    const start = (b: number) => {
      const pending = this.batchAt(epoch, b, order);
      pending.catch(() => undefined); // a caller that stops early must not leave an unhandled rejection
      return pending;
    };
    const ahead: Promise<Batch>[] = [];
    let next = fromBatch;
    const fill = () => {
      while (ahead.length < this.prefetch && next < count) ahead.push(start(next++));
    };
    fill();
    while (ahead.length > 0) {
      const current = ahead.shift()!;
      fill();
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
