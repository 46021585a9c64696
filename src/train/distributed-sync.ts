// Rank 0 decides, every rank learns: where a data-parallel run starts (fresh, or rank 0's latest
// checkpoint) reaches the other ranks with MPI_Bcast, so they need no access to rank 0's run
// folder (another machine's disk). An error on rank 0 (PST704, PST705, a damaged checkpoint)
// reaches them too, and every rank stops with the same message instead of waiting forever.
import { DiagnosticError, type Diagnostic } from '../lang/diagnostics.js';
import type { WeightMap } from '../weights/tensor.js';
import type { Communicator } from './distributed.js';

/** JSON and named float32 tensors: what rank 0 shares. */
export interface Shared<T> {
  json: T;
  tensors: WeightMap;
}

interface Header {
  json?: unknown;
  error?: { diagnostics?: Diagnostic[]; message: string };
  tensors: { name: string; shape: number[]; length: number }[];
}

function encode(header: Header, tensors: WeightMap): Uint8Array {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const headBytes = Math.ceil((4 + head.length) / 4) * 4;
  const floats = header.tensors.reduce((s, t) => s + t.length, 0);
  const out = new Uint8Array(headBytes + floats * 4);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  const data = new Float32Array(out.buffer, headBytes, floats);
  let at = 0;
  for (const t of header.tensors) {
    data.set(tensors.get(t.name)!.data, at);
    at += t.length;
  }
  return out;
}

function decode(bytes: Uint8Array): { header: Header; tensors: WeightMap } {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length))) as Header;
  const headBytes = Math.ceil((4 + length) / 4) * 4;
  const tensors: WeightMap = new Map();
  let at = bytes.byteOffset + headBytes;
  for (const t of header.tensors) {
    // A copy: each tensor its own buffer, as the rest of pstc expects of a WeightMap.
    tensors.set(t.name, { shape: t.shape, data: new Float32Array(bytes.buffer.slice(at, at + t.length * 4)) });
    at += t.length * 4;
  }
  return { header, tensors };
}

/**
 * Rank 0 runs `produce`; every rank returns its result. A DiagnosticError (or any error) thrown
 * on rank 0 is thrown on every rank, its message saying it came from rank 0. Collective.
 */
export async function shareFromRoot<T>(comm: Communicator, produce: () => Promise<Shared<T>> | Shared<T>): Promise<Shared<T>> {
  let bytes: Uint8Array = new Uint8Array(0);
  let local: Shared<T> | undefined;
  let failure: unknown;
  if (comm.rank === 0) {
    let header: Header;
    let tensors: WeightMap = new Map();
    try {
      local = await produce();
      tensors = local.tensors;
      header = { json: local.json, tensors: [...tensors].map(([name, t]) => ({ name, shape: t.shape, length: t.data.length })) };
    } catch (e) {
      failure = e;
      header = { error: { message: (e as Error).message, ...(e instanceof DiagnosticError ? { diagnostics: e.diagnostics } : {}) }, tensors: [] };
    }
    bytes = encode(header, tensors);
  }
  const size = new Float32Array(2);
  // A byte count up to 2^48 in two float32 halves of 24 bits each (exact in float32).
  if (comm.rank === 0) size.set([bytes.length % 2 ** 24, Math.floor(bytes.length / 2 ** 24)]);
  await comm.broadcast(new Uint8Array(size.buffer), 0);
  if (comm.rank !== 0) bytes = new Uint8Array(size[0]! + size[1]! * 2 ** 24);
  await comm.broadcast(bytes, 0);
  if (comm.rank === 0) {
    if (failure !== undefined) throw failure;
    return local!;
  }
  const { header, tensors } = decode(bytes);
  if (header.error) {
    if (header.error.diagnostics) throw new DiagnosticError(header.error.diagnostics.map((d) => ({ ...d, message: `${d.message} (on rank 0)` })));
    throw new Error(`rank 0 failed: ${header.error.message}`);
  }
  return { json: header.json as T, tensors };
}
