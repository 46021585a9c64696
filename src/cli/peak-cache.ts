// The adapter's measured peak (backends/webgpu/peak.ts), cached on disk so that it is measured
// once per adapter: `$XDG_CACHE_HOME/pstc/peak.json` (else `~/.cache/pstc/peak.json`), one entry
// per adapter, pstc version and benchmark version. Written atomically; a cache that cannot be read
// or does not hold a sane entry is measured again and rewritten, and one that cannot be written
// leaves the measurement in use (the profile says so).
//
// A peak is a best case, and on a CPU adapter (lavapipe) a machine busy with other work measures
// a fraction of it (here: 5.6 GFLOP/s cached during a training run, 17 on the same machine less
// loaded), which inflates every "of peak" after it. So each entry records the load it was
// measured under (1-minute load average per core), and a cached entry taken when the machine was
// busy is measured again once it is markedly quieter, keeping the better of the two figures.
import { mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism, homedir, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { measurePeak, PEAK_BENCHMARK_VERSION, type Peak } from '../../backends/webgpu/peak.js';
import type { PstcDevice } from '../../backends/webgpu/device.js';
import { writeFileAtomic } from '../weights/atomic.js';
import { PSTC_VERSION } from './version.js';

export interface CachedPeak extends Peak {
  /** ISO time of the measurement. */
  measuredAt: string;
  /** The machine's 1-minute load average per core when it was measured (absent in older files). */
  load?: number;
}

/** Load per core above which a measurement is taken again when the machine is quieter. */
const BUSY = 0.5;

/** The machine's load now: the 1-minute load average per core. */
export function loadPerCore(): number {
  return loadavg()[0]! / availableParallelism();
}

/** Whether a cached peak measured under `cached.load` should be measured again at `now`. */
export function remeasureAt(cached: CachedPeak, now: number): boolean {
  return cached.load !== undefined && cached.load > BUSY && now <= cached.load / 2;
}

export interface PeakLookup {
  peak: CachedPeak;
  /** 'cached': read from the file; 'measured': measured now and written; 'unwritable': measured, not saved (why). */
  source: 'cached' | 'measured' | 'unwritable';
  path: string;
  note?: string;
}

export function peakCachePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'pstc', 'peak.json');
}

export function peakCacheKey(device: Pick<PstcDevice, 'info'>): string {
  const { vendor, architecture, device: name, description } = device.info;
  return JSON.stringify({ vendor, architecture, device: name, description, pstc: PSTC_VERSION, benchmark: PEAK_BENCHMARK_VERSION });
}

function isPeak(x: unknown): x is CachedPeak {
  if (typeof x !== 'object' || x === null) return false;
  const p = x as Record<string, unknown>;
  const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  return positive(p.flopsPerSecond) && positive(p.bytesPerSecond) && (p.method === 'timestamp-query' || p.method === 'submission') && typeof p.measuredAt === 'string' && (p.load === undefined || (typeof p.load === 'number' && Number.isFinite(p.load) && p.load >= 0));
}

/** Every entry of a readable cache file; an unreadable or malformed one holds none. */
function readEntries(path: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { entries?: unknown }).entries === 'object' && (parsed as { entries: unknown }).entries !== null) {
      return { ...(parsed as { entries: Record<string, unknown> }).entries };
    }
  } catch {
    // missing or corrupt: measured again below
  }
  return {};
}

export async function cachedPeak(
  device: PstcDevice,
  path = peakCachePath(),
  measure: (d: PstcDevice) => Promise<Peak> = measurePeak,
  load: () => number = loadPerCore,
): Promise<PeakLookup> {
  const key = peakCacheKey(device);
  const entries = readEntries(path);
  const hit = entries[key];
  const before = isPeak(hit) ? hit : undefined;
  if (before && !remeasureAt(before, load())) return { peak: before, source: 'cached', path };
  const loadBefore = load();
  const now = await measure(device);
  const measured: CachedPeak = { ...now, measuredAt: new Date().toISOString(), load: Math.max(loadBefore, load()) };
  // Measured again after a busy measurement: the better figure of each kind stands.
  const peak: CachedPeak = before
    ? { ...measured, flopsPerSecond: Math.max(before.flopsPerSecond, now.flopsPerSecond), bytesPerSecond: Math.max(before.bytesPerSecond, now.bytesPerSecond) }
    : measured;
  entries[key] = peak;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, `${JSON.stringify({ entries }, null, 2)}\n`);
    return { peak, source: 'measured', path };
  } catch (e) {
    return { peak, source: 'unwritable', path, note: (e as Error).message };
  }
}
