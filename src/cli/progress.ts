// Long work shows progress: on a terminal one live line (log-update) redrawn in place, in a log
// or a pipe plain lines, one per update. Messages in between are printed above the live line.
import { createLogUpdate } from 'log-update';
import type { CliIO } from './io.js';

export interface Progress {
  /** Replace the live line (a terminal) or print it as a line (not a terminal). */
  update(line: string): void;
  /** A message that stays. */
  say(line: string): void;
  /** Leave the last live line on the screen. */
  done(): void;
}

export function createProgress(io: CliIO): Progress {
  const live = io.errIsTerminal ? createLogUpdate(process.stderr) : null;
  return {
    update(line) {
      if (live) live(line);
      else io.err(line);
    },
    say(line) {
      if (live) {
        live.clear();
        io.err(line);
      } else io.err(line);
    },
    done() {
      live?.done();
    },
  };
}

/** 83 s → `1m23s`, 4000 s → `1h06m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
