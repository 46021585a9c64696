// What makes two resolved models different, for the ablation table ("what differs from the
// base"), for folding equal sweep variants into one run, and for `explain --compare`.
// Equality ignores what does not change the network: spans (where it was written) and names
// (of the model and of its shifts: `pattern_c` and an identical grid under another name are the
// same model). Differences are described at the level a person writes them — input, embed, a
// stage's depth/heads/window, the shifts per block, the shift definitions — and anything the
// summary does not name falls back to the differing JSON paths, so no difference goes unsaid.
import type { ModelConfig, Shift, StageConfig } from '../lang/model.js';

/** A config as plain JSON with spans and names removed: equal strings ⇔ the same network. */
export function canonicalConfig(config: ModelConfig): string {
  return JSON.stringify(config, (key, value) => (key === 'span' || key === 'name' ? undefined : value));
}

export function sameNetwork(a: ModelConfig, b: ModelConfig): boolean {
  return canonicalConfig(a) === canonicalConfig(b);
}

export interface ConfigChange {
  /** A setting as written in .pst where there is one (`input.frames`, `stage 2.heads`, `shifts`, `patch_shift`). */
  path: string;
  base: string;
  variant: string;
}

/** The settings a person would name, each as a short text. */
export function configSummary(config: ModelConfig): Map<string, string> {
  const out = new Map<string, string>();
  out.set('input.frames', String(config.input.frames));
  out.set('input.size', String(config.input.size));
  out.set('embed.patch', `(${config.embed.patch.join(', ')})`);
  out.set('embed.dim', String(config.embed.dim));
  out.set('stages', String(config.stages.length));
  out.set('head.classes', config.head ? String(config.head.classes) : 'none');
  out.set('norm', config.finalNorm ? 'layernorm' : 'none');
  // Per-stage settings; one that changes alike in every stage is said once, without the stage.
  const perStage: [string, (s: StageConfig) => string][] = [
    ['depth', (s) => String(s.depth)],
    ['heads', (s) => String(s.heads)],
    ['dim', (s) => String(s.dim)],
    ['attention', (s) => s.attention],
    ['window', (s) => `(${s.window.join(', ')})`],
    ['bias_frames', (s) => String(s.biasFrames)],
    ['mlp_ratio', (s) => String(s.mlpRatio)],
    ['shift_windows', (s) => s.blocks.map((b) => (b.shiftWindows ? 'y' : 'n')).join('')],
    ['drop_path', (s) => s.blocks.map((b) => round(b.dropPath)).join(' ')],
    ['shifts', (s) => s.blocks.map((b) => shiftKind(b.shift)).join(' ')],
  ];
  for (const s of config.stages) for (const [key, read] of perStage) out.set(`stage ${s.number}.${key}`, read(s));
  const patch = new Set<string>();
  const channel = new Set<string>();
  for (const s of config.stages) {
    for (const b of s.blocks) {
      if (b.shift) (b.shift.kind === 'patch' ? patch : channel).add(describeShift(b.shift, false));
    }
  }
  out.set('patch_shift', [...patch].join('; ') || 'none');
  out.set('channel_shift', [...channel].join('; ') || 'none');
  return out;
}

/** The differences of `variant` from `base`, in the order of the summary. */
export function configChanges(base: ModelConfig, variant: ModelConfig): ConfigChange[] {
  if (sameNetwork(base, variant)) return [];
  const a = configSummary(base);
  const b = configSummary(variant);
  const changes: ConfigChange[] = [];
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  for (const key of keys) {
    const x = a.get(key) ?? '—';
    const y = b.get(key) ?? '—';
    if (x !== y) changes.push({ path: key, base: x, variant: y });
  }
  const merged = mergeStages(changes, Math.max(base.stages.length, variant.stages.length));
  if (merged.length > 0) return merged;
  // A difference the summary does not name: say which JSON paths differ.
  return jsonChanges(JSON.parse(canonicalConfig(base)), JSON.parse(canonicalConfig(variant)), '').slice(0, 8);
}

/** `window: (1, 3, 3) → (1, 4, 4)`; several joined with `; `. */
export function describeChanges(changes: readonly ConfigChange[]): string {
  if (changes.length === 0) return 'nothing (the base)';
  return changes.map((c) => `${c.path}: ${c.base} → ${c.variant}`).join('; ');
}

function shiftKind(s: Shift | null): string {
  return s === null ? 'none' : s.kind === 'patch' ? 'tps' : 'tcs';
}

/** A shift by name with what it does: `pattern_c (3×3 [-4 +1 +2 / …], reach 4, ratio 1, cyclic, shift back)`;
 *  without the grid's values when `grid` is false. */
export function describeShift(s: Shift, grid = true): string {
  if (s.kind === 'channel') return `${s.name} (fold ${round(s.fold)}, ${s.boundary})`;
  const n = s.grid.length;
  const reach = Math.max(0, ...s.grid.flat().map(Math.abs));
  const values = grid ? ` [${s.grid.map((row) => row.map((v) => (v > 0 ? `+${v}` : String(v))).join(' ')).join(' / ')}]` : '';
  return `${s.name} (${n}×${n}${values}, reach ${reach}, ratio ${round(s.ratio)}, ${s.boundary}${s.shiftBack ? ', shift back' : ''})`;
}

function round(x: number): string {
  return String(Math.round(x * 1e4) / 1e4);
}

/** `stage 1.window` and `stage 2.window` with the same change become `window`. */
function mergeStages(changes: ConfigChange[], stages: number): ConfigChange[] {
  const out: ConfigChange[] = [];
  const done = new Set<string>();
  for (const c of changes) {
    const m = /^stage (\d+)\.(.+)$/.exec(c.path);
    if (!m) {
      out.push(c);
      continue;
    }
    const key = m[2]!;
    if (done.has(key)) continue;
    const same = changes.filter((d) => d.path.endsWith(`.${key}`) && /^stage \d+\./.test(d.path));
    const uniform = same.length === stages && same.every((d) => d.base === c.base && d.variant === c.variant);
    if (uniform) {
      done.add(key);
      out.push({ path: key, base: c.base, variant: c.variant });
    } else out.push(c);
  }
  return out;
}

function jsonChanges(a: unknown, b: unknown, path: string): ConfigChange[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])];
    return keys.flatMap((k) =>
      jsonChanges((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${path}[${k}]` : path ? `${path}.${k}` : k),
    );
  }
  return [{ path, base: JSON.stringify(a) ?? '—', variant: JSON.stringify(b) ?? '—' }];
}
