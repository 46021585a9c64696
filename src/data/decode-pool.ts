// Clips decoded in worker threads: the loader's `--workers N`. Each worker opens its own copy of
// the dataset from the recipe openData left on it and reads the clips it is sent; since a clip is a
// pure function of (dataset, index, epoch), which worker reads it changes nothing — batches are
// bit-identical to those read on the main thread. Requests wait in a queue here and each worker
// has at most `inFlight` of them at once; how far ahead of the caller the queue runs is the
// loader's prefetch (loader.ts), so memory stays bounded.
//
// An idle worker is unref'd: a process that forgot to close its loader still exits, while one
// waiting for a clip stays alive until the clip comes.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ClipSample, DatasetRecipe } from './dataset.js';
import { receiveError, type FromWorker, type ToWorker } from './decode-protocol.js';
import { decodeWorkerScript } from './worker-script.js';

/** `--workers` when not given: one fewer than the CPU cores (the main thread drives the device),
 *  at least 1, at most 4. */
export function defaultWorkers(): number {
  return Math.min(4, Math.max(1, availableParallelism() - 1));
}

export interface DecodePoolOptions {
  workers: number;
  /** Reads one worker has under way at once (its frames decode in libuv's pool, videos in FFmpeg). */
  inFlight?: number;
  /** Where a worker's `--skip-bad` lines go. */
  log?: (message: string) => void;
}

interface Request {
  id: number;
  index: number;
  epoch: number;
  resolve: (sample: ClipSample) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, Request>;
  /** Set when the worker cannot read any more (its dataset failed to open, or it died). */
  failed?: Error;
  exited: Promise<void>;
}

export class DecodePool {
  private readonly queue: Request[] = [];
  private readonly inFlight: number;
  private slots: Promise<Slot[]> | undefined;
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly recipe: DatasetRecipe,
    private readonly options: DecodePoolOptions,
  ) {
    if (!Number.isSafeInteger(options.workers) || options.workers < 1) throw new RangeError(`DecodePool: ${options.workers} workers`);
    this.inFlight = Math.max(1, options.inFlight ?? 4);
  }

  get workers(): number {
    return this.options.workers;
  }

  read(index: number, epoch: number): Promise<ClipSample> {
    if (this.closed) return Promise.reject(new Error('the loader was closed'));
    return new Promise<ClipSample>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, index, epoch, resolve, reject });
      this.start().then(
        () => this.pump(),
        (e: unknown) => this.failAll(e as Error),
      );
    });
  }

  /** Stops the workers: each closes its files and exits; reads not yet answered are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('the loader was closed'));
    if (!this.slots) return;
    const slots = await this.slots.catch(() => [] as Slot[]);
    for (const slot of slots) {
      for (const request of slot.inFlight.values()) request.reject(new Error('the loader was closed'));
      slot.inFlight.clear();
    }
    await Promise.all(
      slots.map(async (slot) => {
        slot.worker.ref();
        slot.worker.postMessage({ kind: 'close' } satisfies ToWorker);
        // A worker whose FFmpeg or file read hangs is stopped after a grace period.
        const timer = setTimeout(() => void slot.worker.terminate(), 5000);
        await slot.exited;
        clearTimeout(timer);
      }),
    );
  }

  private start(): Promise<Slot[]> {
    this.slots ??= decodeWorkerScript().then((script) => Array.from({ length: this.options.workers }, () => this.spawn(script)));
    return this.slots;
  }

  private spawn(script: URL): Slot {
    const worker = new Worker(script);
    let exit!: () => void;
    const slot: Slot = { worker, inFlight: new Map(), exited: new Promise<void>((r) => (exit = r)) };
    worker.on('message', (message: FromWorker) => this.receive(slot, message));
    worker.on('error', (e) => this.fail(slot, new Error(`a decode worker stopped: ${e.message}`)));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(slot, new Error(`a decode worker exited (code ${code})`));
      exit();
    });
    worker.postMessage({ kind: 'open', recipe: this.recipe } satisfies ToWorker);
    worker.unref();
    return slot;
  }

  private receive(slot: Slot, message: FromWorker): void {
    switch (message.kind) {
      case 'clip':
      case 'error': {
        if (message.kind === 'error' && message.id === undefined) {
          this.fail(slot, receiveError(message.error));
          return;
        }
        const request = slot.inFlight.get(message.id!);
        if (!request) return;
        slot.inFlight.delete(message.id!);
        if (message.kind === 'clip') request.resolve({ clip: message.clip, label: message.label, ...(message.skipped ? { skipped: message.skipped } : {}) });
        else request.reject(receiveError(message.error));
        if (slot.inFlight.size === 0) slot.worker.unref();
        this.pump();
        return;
      }
      case 'log':
        this.options.log?.(message.message);
        return;
      case 'ready':
      case 'closed':
        return;
    }
  }

  /** Sends queued requests to the least busy workers that have room. */
  private pump(): void {
    void this.slots?.then((slots) => {
      while (this.queue.length > 0) {
        let best: Slot | undefined;
        for (const s of slots) if (!s.failed && s.inFlight.size < this.inFlight && (!best || s.inFlight.size < best.inFlight.size)) best = s;
        if (!best) break;
        const request = this.queue.shift()!;
        best.inFlight.set(request.id, request);
        best.worker.ref();
        best.worker.postMessage({ kind: 'read', id: request.id, index: request.index, epoch: request.epoch } satisfies ToWorker);
      }
      if (this.queue.length > 0 && slots.every((s) => s.failed)) this.failAll(slots[0]!.failed!);
    });
  }

  /** A worker that cannot go on: its reads fail with the reason; the others carry the queue. */
  private fail(slot: Slot, error: Error): void {
    if (slot.failed) return;
    slot.failed = error;
    for (const request of slot.inFlight.values()) request.reject(error);
    slot.inFlight.clear();
    slot.worker.unref();
    this.pump();
  }

  private failAll(error: Error): void {
    for (const request of this.queue.splice(0)) request.reject(error);
  }
}
