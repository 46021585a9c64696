// One trainer per run directory. Two `pstc train --resume` on one --out (a second terminal, a job
// resubmitted while the first still runs, a CLI process that outlived its killed wrapper) would
// interleave their checkpoints and log. The first takes RUN/.pstc-train.lock (created exclusively,
// holding its pid and host); a second is refused while that pid lives on this host. A lock left by
// a run that died (SIGKILL, a crash) names a dead pid and is taken over, so nothing needs cleaning.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { DiagnosticError } from '../lang/diagnostics.js';
import { writeFileAtomic } from '../weights/atomic.js';
import { processAlive } from './process-state.js';

/** The lock's name: it starts with '.', so a run folder holding it is still a run folder. */
export const RUN_LOCK = '.pstc-train.lock';

interface LockRecord {
  pid: number;
  host: string;
  since: string;
}

export interface RunLock {
  /** Removes the lock if it is still this process's (a second call finds it gone). */
  release(): void;
}

const isMine = (record: LockRecord | undefined): boolean => record?.pid === process.pid && record.host === hostname();

function readRecord(path: string): LockRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockRecord>;
    return typeof r.pid === 'number' && typeof r.host === 'string' ? { pid: r.pid, host: r.host, since: String(r.since ?? '?') } : undefined;
  } catch {
    return undefined; // gone, or half-written by a process killed mid-write: not a holder
  }
}

/**
 * Takes the run directory `out` (which exists) for this process, or throws PST714 naming the live
 * process that holds it.
 */
export function lockRunDirectory(out: string): RunLock {
  const path = join(out, RUN_LOCK);
  const mine: LockRecord = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, text, { flag: 'wx' }); // exclusive: fails if the lock exists
      return release(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const held = readRecord(path);
    if (held && (held.host !== mine.host || processAlive(held.pid))) {
      const where = held.host === mine.host ? `pid ${held.pid}` : `pid ${held.pid} on ${held.host}`;
      throw new DiagnosticError([
        {
          code: 'PST714',
          severity: 'error',
          message: `${out} is in use by another pstc train (${where}, since ${held.since})`,
          flag: '--out',
          hint:
            held.host === mine.host
              ? 'wait for that run to end (or stop it: Ctrl-C checkpoints it), then --resume; or give another --out'
              : `if that run has ended (its machine went down), delete ${path}; else wait for it or give another --out`,
        },
      ]);
    }
    // Stale (its process is gone) or unreadable: replace it in one rename and read it back; of two
    // processes taking over at once, one that reads the other's record tries again and is refused.
    writeFileAtomic(path, text);
    if (isMine(readRecord(path))) return release(path);
  }
  throw new DiagnosticError([{ code: 'PST714', severity: 'error', message: `${out}: could not take ${RUN_LOCK} (other processes keep taking it)`, flag: '--out', hint: 'run one pstc train per --out' }]);
}

function release(path: string): RunLock {
  return {
    release() {
      if (isMine(readRecord(path))) {
        try {
          unlinkSync(path);
        } catch {
          // already gone: nothing to release
        }
      }
    },
  };
}
