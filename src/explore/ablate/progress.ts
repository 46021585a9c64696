// Progress of a sweep as a person watches it: which run of how many, what the current run is
// doing ("step 40/200 loss 1.21", "timing the forward 3/10"), and how long the sweep has taken.
// On a terminal one line is redrawn; elsewhere (a log, CI, Slurm) plain lines, at most one per
// second for the within-run updates, so a log stays readable.
import type { RunProgress, RunRecord } from './record.js';

export interface ProgressOut {
  write(text: string): void;
  isTTY: boolean;
}

export class SweepProgress {
  private readonly started = Date.now();
  private lastPlain = 0;
  private current = '';
  private done = 0;

  constructor(
    private readonly total: number,
    private readonly out: ProgressOut,
  ) {}

  /** `skipped` runs had finished before (a rerun or --resume): they count as done. */
  skipped(n: number): void {
    this.done += n;
    if (n > 0) this.line(`${n} run(s) already finished in this directory: skipped`);
  }

  start(label: string): void {
    this.current = label;
    this.status('starting');
  }

  /** The RunProgress the current run reports through. */
  forRun(): RunProgress {
    return (what, fraction) => this.status(fraction === undefined ? what : `${what} (${Math.round(fraction * 100)}%)`);
  }

  finish(record: RunRecord): void {
    this.done++;
    const what =
      record.status === 'done'
        ? `done in ${record.seconds.toFixed(1)} s${record.metrics?.top1 !== undefined ? `, top-1 ${(record.metrics.top1 * 100).toFixed(1)}%` : ''}`
        : `FAILED: ${firstLine(record.diagnostic)}`;
    this.line(`[${this.done}/${this.total}] ${record.variant} seed ${record.seed}: ${what}`);
  }

  line(text: string): void {
    if (this.out.isTTY) this.out.write('\r\x1b[2K');
    this.out.write(`${text}\n`);
  }

  private status(what: string): void {
    const text = `[${this.done + 1}/${this.total}] ${this.current}: ${what} · sweep ${elapsed(Date.now() - this.started)}`;
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${text.slice(0, 150)}`);
      return;
    }
    const now = Date.now();
    if (now - this.lastPlain < 1000) return;
    this.lastPlain = now;
    this.out.write(`${text}\n`);
  }
}

function firstLine(s: string | undefined): string {
  return (s ?? 'unknown error').split('\n').find((l) => l.trim()) ?? '';
}

function elapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}
