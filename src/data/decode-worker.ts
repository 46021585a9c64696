// A decode worker thread: opens its own copy of the dataset from the recipe the pool sends, then
// reads the clips it is asked for (decoding, augmentation, normalisation: dataset.read) and sends
// each back with its buffer transferred, not copied. Several reads may be under way at once (frame
// decoding runs in libuv's pool, videos in FFmpeg processes).
import { parentPort } from 'node:worker_threads';
import type { Dataset, DataSource } from './dataset.js';
import type { FromWorker, ToWorker } from './decode-protocol.js';
import { sendError } from './decode-protocol.js';
import { closeData, openData } from './open.js';

const port = parentPort;
if (!port) throw new Error('decode-worker.js runs as a worker thread (the loader starts it)');

const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
let opened: Promise<{ source: DataSource; dataset: Dataset }> | undefined;

async function open(message: Extract<ToWorker, { kind: 'open' }>): Promise<{ source: DataSource; dataset: Dataset }> {
  const { recipe } = message;
  const source = await openData(recipe.spec, recipe.input, { skipBad: recipe.skipBad, log: (line) => post({ kind: 'log', message: line }) });
  const dataset = recipe.split === 'val' ? source.val : source.train;
  if (!dataset) throw new Error(`the data has no ${recipe.split} split`);
  return { source, dataset };
}

async function read(id: number, index: number, epoch: number): Promise<void> {
  try {
    const { dataset } = await opened!;
    const { clip, label, skipped } = await dataset.read(index, epoch);
    // Transfer the clip's memory; a view into a larger buffer is copied out first.
    const own = clip.byteOffset === 0 && clip.byteLength === clip.buffer.byteLength ? clip : clip.slice();
    post({ kind: 'clip', id, clip: own, label, ...(skipped ? { skipped } : {}) }, [own.buffer as ArrayBuffer]);
  } catch (e) {
    post({ kind: 'error', id, error: sendError(e) });
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.kind) {
    case 'open':
      opened = open(message);
      opened.then(
        () => post({ kind: 'ready' }),
        (e: unknown) => post({ kind: 'error', error: sendError(e) }),
      );
      break;
    case 'read':
      void read(message.id, message.index, message.epoch);
      break;
    case 'close':
      void (opened ?? Promise.reject(new Error('never opened')))
        .then(({ source }) => closeData(source), () => undefined)
        .finally(() => {
          post({ kind: 'closed' });
          port.close();
        });
      break;
  }
});
