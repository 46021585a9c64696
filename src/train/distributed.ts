// Data-parallel training's collective engine: Open MPI's libmpi, called from Node through the FFI
// package koffi (no addon of our own, no collective of our own). One process per rank (launched
// by `mpirun -np N` or Slurm's `srun --mpi=pmix`); gradients and metrics are summed across ranks
// with MPI_Allreduce, rank 0's start state reaches the others with MPI_Bcast.
//
// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are the addresses of exported
// globals (`ompi_mpi_comm_world`, …) and MPI_IN_PLACE is the address 1: this module is specific to
// Open MPI's ABI (libmpi.so.40), which is what Debian ships as `openmpi-bin`/`libopenmpi-dev`.
//
// Collectives run on a libuv worker thread (koffi's `.async`), which needs MPI_THREAD_MULTIPLE
// (or SERIALIZED: at most one MPI call is ever in flight, the promise chain orders them). So the
// main thread stays free while a collective waits: the next gradient bucket is read back from
// the device meanwhile, and a signal from the launcher (another rank died) is handled at once.
import { createRequire } from 'node:module';
import { DiagnosticError } from '../lang/diagnostics.js';

/** What `--distributed` selects; only MPI is offered. */
export const DISTRIBUTED_ENGINES = ['mpi'] as const;
export type DistributedEngine = (typeof DISTRIBUTED_ENGINES)[number];

/** The Debian packages that provide libmpi.so.40 and mpirun, and how this repository installs them. */
export const MPI_PACKAGES = 'openmpi-bin libopenmpi-dev';
const MPI_LIBRARY = 'libmpi.so.40';
const INSTALL_HINT = `install Open MPI (Debian/Ubuntu: \`apt-get install ${MPI_PACKAGES}\`, or \`PSTC_WITH_MPI=1 scripts/setup.sh\`) and launch with \`mpirun -np N pstc train … --distributed mpi\``;

/** A group of processes that sum float32 arrays together: what the trainer needs of MPI. */
export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** This rank's index among the ranks on its machine (picks a device where there are several). */
  readonly localRank: number;
  /** Sum `data` across ranks, in place; every rank gets the same bits. Collective. */
  allreduceSum(data: Float32Array): Promise<void>;
  /** Element-wise maximum across ranks, in place. Collective. */
  allreduceMax(data: Float32Array): Promise<void>;
  /** Rank `root`'s bytes into every rank's `data` (same length everywhere). Collective. */
  broadcast(data: Uint8Array, root: number): Promise<void>;
  barrier(): Promise<void>;
  /** End every rank of the job now with `code` (MPI_Abort). */
  abort(code: number): never;
  /** The last MPI call; after it, none. */
  finalize(): void;
}

/** --distributed mpi on a machine without Open MPI, or a launch that cannot initialise it. */
export function mpiUnavailable(why: string): DiagnosticError {
  return new DiagnosticError([{ code: 'PST711', severity: 'error', message: `--distributed mpi: ${why}`, flag: '--distributed', hint: INSTALL_HINT }]);
}

// MPI_THREAD_* levels (mpi.h); Open MPI 4 numbers them 0…3.
const THREAD_SERIALIZED = 2;
const THREAD_MULTIPLE = 3;
const MPI_SUCCESS = 0;
/** Largest count one MPI call takes (a C int); longer arrays go in pieces. */
const MAX_COUNT = 2 ** 30;

type Native = (...args: unknown[]) => unknown;
interface NativeAsync extends Native {
  async: (...args: unknown[]) => void;
}

interface Koffi {
  load(path: string): { func(signature: string): NativeAsync; symbol(name: string): unknown };
}

function loadKoffi(): Koffi {
  try {
    // koffi is CommonJS with a native binary: loaded only when --distributed asks for it, so
    // every other command runs where its binary is missing.
    return createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    throw mpiUnavailable(`the FFI package koffi could not be loaded (${(e as Error).message.split('\n')[0]}); run \`npm install\` in pstc's folder`);
  }
}

class MpiCommunicator implements Communicator {
  /** The chain every collective joins: one MPI call in flight at a time, in program order. */
  private queue: Promise<void> = Promise.resolve();
  private finalized = false;

  constructor(
    private readonly fns: Record<'allreduce' | 'bcast' | 'barrier' | 'abort' | 'finalize', NativeAsync>,
    private readonly handles: { world: unknown; float: unknown; byte: unknown; sum: unknown; max: unknown },
    readonly rank: number,
    readonly size: number,
    readonly localRank: number,
  ) {}

  /** Run `call` after every earlier collective, on a worker thread; an MPI error code rejects. */
  private run(name: string, fn: NativeAsync, args: unknown[]): Promise<void> {
    const next = this.queue.then(
      () =>
        new Promise<void>((resolve, reject) => {
          fn.async(...args, (err: unknown, rc: number) => {
            if (err) reject(err instanceof Error ? err : new Error(String(err)));
            else if (rc !== MPI_SUCCESS) reject(new Error(`${name} returned MPI error ${rc}`));
            else resolve();
          });
        }),
    );
    // A failed call fails its caller; the chain goes on (the job is ending anyway).
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async reduce(data: Float32Array, op: unknown, name: string): Promise<void> {
    for (let at = 0; at < data.length; at += MAX_COUNT) {
      const part = data.subarray(at, Math.min(data.length, at + MAX_COUNT));
      // MPI_IN_PLACE is the address 1 in Open MPI.
      await this.run(name, this.fns.allreduce, [1n, part, part.length, this.handles.float, op, this.handles.world]);
    }
  }

  allreduceSum(data: Float32Array): Promise<void> {
    return this.reduce(data, this.handles.sum, 'MPI_Allreduce(MPI_SUM)');
  }

  allreduceMax(data: Float32Array): Promise<void> {
    return this.reduce(data, this.handles.max, 'MPI_Allreduce(MPI_MAX)');
  }

  async broadcast(data: Uint8Array, root: number): Promise<void> {
    for (let at = 0; at < data.length; at += MAX_COUNT) {
      const part = data.subarray(at, Math.min(data.length, at + MAX_COUNT));
      await this.run('MPI_Bcast', this.fns.bcast, [part, part.length, this.handles.byte, root, this.handles.world]);
    }
  }

  barrier(): Promise<void> {
    return this.run('MPI_Barrier', this.fns.barrier, [this.handles.world]);
  }

  abort(code: number): never {
    this.fns.abort(this.handles.world, code);
    process.exit(code); // MPI_Abort does not return; should it, the process still ends.
  }

  finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    // The thread that initialised MPI ends it (MPI 3.1 §12.4.3): a plain call on this thread.
    this.fns.finalize();
  }
}

let opened: Communicator | undefined;

/**
 * Initialise MPI once per process (MPI_Init_thread asking for MPI_THREAD_MULTIPLE) and return
 * MPI_COMM_WORLD. A machine without Open MPI gets PST711 naming the Debian packages.
 */
export function openMpi(): Communicator {
  if (opened) return opened;
  const koffi = loadKoffi();
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = koffi.load(MPI_LIBRARY);
  } catch (e) {
    throw mpiUnavailable(`Open MPI's library ${MPI_LIBRARY} was not found (${(e as Error).message.split('\n')[0]})`);
  }
  const f = (signature: string) => lib.func(signature);
  const init = f('int MPI_Init_thread(void *argc, void *argv, int required, _Out_ int *provided)');
  const commRank = f('int MPI_Comm_rank(void *comm, _Out_ int *rank)');
  const commSize = f('int MPI_Comm_size(void *comm, _Out_ int *size)');
  const fns = {
    allreduce: f('int MPI_Allreduce(void *sendbuf, void *recvbuf, int count, void *datatype, void *op, void *comm)'),
    bcast: f('int MPI_Bcast(void *buffer, int count, void *datatype, int root, void *comm)'),
    barrier: f('int MPI_Barrier(void *comm)'),
    abort: f('int MPI_Abort(void *comm, int errorcode)'),
    finalize: f('int MPI_Finalize()'),
  };
  const handles = {
    world: lib.symbol('ompi_mpi_comm_world'),
    float: lib.symbol('ompi_mpi_float'),
    byte: lib.symbol('ompi_mpi_byte'),
    sum: lib.symbol('ompi_mpi_op_sum'),
    max: lib.symbol('ompi_mpi_op_max'),
  };
  const provided = [0];
  const rc = init(null, null, THREAD_MULTIPLE, provided) as number;
  if (rc !== MPI_SUCCESS) throw mpiUnavailable(`MPI_Init_thread failed (error ${rc}); is this process started by mpirun or srun --mpi=pmix?`);
  if (provided[0]! < THREAD_SERIALIZED) {
    throw mpiUnavailable(`this MPI library offers thread level ${provided[0]}, and collectives on a worker thread need MPI_THREAD_SERIALIZED (2) or more`);
  }
  const rank = [0];
  const size = [0];
  commRank(handles.world, rank);
  commSize(handles.world, size);
  const local = Number(process.env.OMPI_COMM_WORLD_LOCAL_RANK ?? process.env.SLURM_LOCALID ?? process.env.PMIX_LOCAL_RANK ?? 0);
  opened = new MpiCommunicator(fns, handles, rank[0]!, size[0]!, Number.isInteger(local) ? local : 0);
  return opened;
}

/** `rank r/N` for messages, e.g. "rank 1/2". */
export function rankLabel(comm: Communicator): string {
  return `rank ${comm.rank}/${comm.size}`;
}
