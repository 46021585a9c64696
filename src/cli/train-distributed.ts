// `pstc train … --distributed mpi`: this process is one rank of an MPI job (mpirun -np N, or
// srun --mpi=pmix). Rank 0 speaks (progress, the final line); every rank prints its own errors,
// prefixed with its rank. The job ends together: an error on one rank aborts all of them
// (MPI_Abort), and the launcher's SIGTERM (another rank died, or Ctrl-C on mpirun) ends each rank
// at once with a line naming the checkpoint to resume from — a rank cannot finish its step when a
// peer is gone, and rank 0's checkpoints are written atomically, so the latest one is whole.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticError, renderDiagnostics } from '../lang/diagnostics.js';
import { DISTRIBUTED_ENGINES, openMpi, rankLabel, type Communicator } from '../train/distributed.js';
import { DEFAULT_BUCKET_BYTES } from '../train/distributed-reduce.js';
import type { DataParallel } from '../train/trainer.js';
import { UsageError } from './errors.js';
import type { CliIO } from './io.js';

export const DISTRIBUTED_HELP = `data-parallel training, one process per rank: ${DISTRIBUTED_ENGINES.join(' | ')} (launch with \`mpirun -np N\` or \`srun --mpi=pmix -n N\`; --batch is the global batch; docs/training.md)`;

export interface DistributedRun {
  dp: DataParallel;
  /** What the command prints on: rank 0's io, a silent one elsewhere (errors still reach stderr). */
  io: CliIO;
  /** After training: wait for every rank, then MPI_Finalize. */
  finish(): Promise<void>;
  /** An error on this rank: print it (rank-prefixed) and end the whole job. */
  fail(e: unknown): never;
}

function envBucketBytes(): number {
  const text = process.env.PSTC_ALLREDUCE_BUCKET_MIB;
  if (text === undefined || text === '') return DEFAULT_BUCKET_BYTES;
  const mib = Number(text);
  if (!Number.isFinite(mib) || mib <= 0 || mib > 4096) throw new UsageError(`PSTC_ALLREDUCE_BUCKET_MIB: a size in MiB in (0, 4096], got \`${text.slice(0, 40)}\``);
  return Math.max(4, Math.round(mib * 2 ** 20));
}

function envOverlap(): boolean {
  // Off by default: on the 2-core machine it was measured on, the overlap made the sum slower
  // (docs/training.md, "The cost of the sum"); `on` where a rank has cores to spare.
  const text = process.env.PSTC_ALLREDUCE_OVERLAP ?? 'off';
  if (text !== 'on' && text !== 'off') throw new UsageError(`PSTC_ALLREDUCE_OVERLAP: on or off, got \`${text.slice(0, 40)}\``);
  return text === 'on';
}

/** Where a resume would start, as rank 0's run folder says (when this rank can see it). */
export function lastCheckpointNote(out: string): string {
  try {
    const pointer = join(out, 'latest.json');
    if (!existsSync(pointer)) return `${out} has no checkpoint yet: rerun the same command to start again`;
    const { step } = JSON.parse(readFileSync(pointer, 'utf8')) as { step: number };
    return `the run's last checkpoint (step ${step}, ${out}/latest.json) is intact: rerun the same command with --resume to continue from it`;
  } catch {
    return `rerun the same command with --resume to continue from rank 0's last checkpoint in ${out}`;
  }
}

const silent: CliIO = { out: () => undefined, err: () => undefined, color: false };

/** Join the MPI job (PST711 where MPI is missing) and set up how this rank speaks and ends. */
export function startDistributed(engine: string, io: CliIO, out: string): DistributedRun {
  if (!(DISTRIBUTED_ENGINES as readonly string[]).includes(engine)) throw new UsageError(`--distributed: ${DISTRIBUTED_ENGINES.join(' or ')}, got \`${engine.slice(0, 40)}\``);
  const bucketBytes = envBucketBytes();
  const overlap = envOverlap();
  const comm: Communicator = openMpi();
  const who = rankLabel(comm);
  // Registered before the command's own handlers, and final: no step can finish without the peers.
  const onSignal = (signal: NodeJS.Signals) => {
    io.err(`pstc: ${who}: error PST713: the MPI job is ending (${signal} from the launcher: another rank failed or was killed, or the job was interrupted); ${lastCheckpointNote(out)}`);
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (comm.rank === 0) io.err(`data-parallel: ${comm.size} rank${comm.size > 1 ? 's' : ''} (MPI), gradients summed in buckets of ${(bucketBytes / 2 ** 20).toFixed(1)} MiB${overlap ? ', each all-reduce overlapped with the next read-back' : ', no overlap'}`);
  return {
    dp: { comm, bucketBytes, overlap },
    io: comm.rank === 0 ? io : silent,
    async finish() {
      await comm.barrier();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      comm.finalize();
    },
    fail(e: unknown): never {
      if (e instanceof DiagnosticError) {
        io.err(renderDiagnostics(e.diagnostics.map((d) => ({ ...d, message: `${who}: ${d.message}` })), { color: io.color }));
      } else if (e instanceof UsageError) {
        io.err(`pstc: ${who}: ${e.message}`);
      } else {
        io.err(`pstc: ${who}: internal error (a bug in pstc, not in your input): ${(e as Error)?.message ?? String(e)}`);
        if (process.env.PSTC_DEBUG) io.err((e as Error)?.stack ?? '');
      }
      io.err(`pstc: ${who}: ending every rank of the job (MPI_Abort); ${lastCheckpointNote(out)}`);
      return comm.abort(1);
    },
  };
}
