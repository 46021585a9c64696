// Whether a process still runs, for the owners of pid files: a run directory's lock
// (src/train/run-lock.ts) and an ablation run's running marker (src/explore/ablate/status.ts).
import { readFileSync } from 'node:fs';

/**
 * A process's parent and whether it still runs, from Linux's /proc/PID/stat; undefined once it is
 * gone or where there is no /proc. A zombie does not run: it has ended, and where nothing reaps
 * orphans (a container whose PID 1 is not an init) a killed process stays one.
 */
export function processState(pid: number): { ppid: number; running: boolean } | undefined {
  try {
    // "pid (comm) state ppid …"; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(ppid), running: state !== 'Z' && state !== 'X' };
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid runs on this machine (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux') return true; // no /proc to ask: the signal said it exists
  return processState(pid)?.running ?? false;
}
