// A sweep file → the runs of an ablation: every variant of every sweep in the file (or the ones
// asked for) × every seed, with variants that resolve to the same network folded into one run
// (said so in the plan), each run's difference from its sweep's base, and a key that changes
// when the network, the budget or the seed does (so a rerun can tell a finished run from a stale one).
import { createHash } from 'node:crypto';
import { checkFiles, type CheckResult } from '../../lang/elaborate.js';
import { DiagnosticError, renderDiagnostics, type Diagnostic } from '../../lang/diagnostics.js';
import { parseProgram } from '../../lang/parse.js';
import { readFromDisk } from '../../lang/read-disk.js';
import type { Span } from '../../lang/span.js';
import { didYouMean } from '../../lang/values.js';
import { canonicalConfig, configChanges } from '../config-diff.js';
import { MAX_PLAN_RUNS, type Budget, type PlannedRun, type SweepPlan } from './record.js';

export interface PlanOptions {
  /** Only these sweeps of the file (default: all). */
  sweeps?: string[];
  seeds: number[];
  budget: Budget;
}

export function planSweep(file: string, options: PlanOptions): SweepPlan {
  const result = checkFiles([file], readFromDisk);
  const blame = blameVariants(result);
  if (blame.unattributed.length) throw new DiagnosticError(result.diagnostics);
  const all = result.sweeps;
  if (all.length === 0) {
    throw new DiagnosticError([diag('PST801', `${file} declares no sweep`, file, 'declare one: `sweep name from model { axis path = [v1, v2] }` (docs/language.md)')]);
  }
  const wanted = options.sweeps ?? all.map((s) => s.name);
  for (const name of wanted) {
    if (!all.some((s) => s.name === name)) {
      throw new DiagnosticError([
        diag('PST802', `${file} has no sweep \`${name}\``, '--sweep', didYouMean(name, all.map((s) => s.name)) ?? `one of ${all.map((s) => s.name).join(', ')}`),
      ]);
    }
  }
  const configs = new Map(result.models.map((m) => [m.name, m]));
  const runs: PlannedRun[] = [];
  const folded: SweepPlan['folded'] = [];
  const invalid: SweepPlan['invalid'] = [];
  const bases: SweepPlan['bases'] = [];
  // Canonical network → the variant that runs it.
  const byNetwork = new Map<string, { variant: string; sameAs: string[] }>();
  const variants: { sweep: string; base: string; name: string }[] = [];
  for (const sweep of all.filter((s) => wanted.includes(s.name))) {
    bases.push({ sweep: sweep.name, base: sweep.base, ...(sweep.baseConfig ? { config: sweep.baseConfig } : {}) });
    for (const name of sweep.variants) {
      const config = configs.get(name);
      if (!config) {
        const own = blame.byVariant.get(name) ?? [];
        invalid.push({ variant: name, diagnostic: renderDiagnostics(own, { sources: result.sources }).trim() });
        continue;
      }
      const canon = canonicalConfig(config);
      const first = byNetwork.get(canon);
      if (first) {
        first.sameAs.push(name);
        folded.push({ variant: name, runsAs: first.variant });
        continue;
      }
      byNetwork.set(canon, { variant: name, sameAs: [] });
      variants.push({ sweep: sweep.name, base: sweep.base, name });
    }
  }
  if (variants.length * options.seeds.length > MAX_PLAN_RUNS) {
    throw new DiagnosticError([
      diag('PST801', `${variants.length} variant(s) × ${options.seeds.length} seed(s) = ${variants.length * options.seeds.length} runs: at most ${MAX_PLAN_RUNS} per ablation`, '--seeds', 'fewer seeds, or split the sweep (--sweep NAME)'),
    ]);
  }
  for (const v of variants) {
    const config = configs.get(v.name)!;
    const canon = canonicalConfig(config);
    const baseConfig = bases.find((b) => b.sweep === v.sweep)?.config;
    for (const seed of options.seeds) {
      const key = hash(`${canon}|${JSON.stringify(options.budget)}|${seed}`);
      runs.push({
        index: runs.length,
        id: `${slug(v.name)}-${hash(v.name).slice(0, 6)}-s${seed}`,
        sweep: v.sweep,
        variant: v.name,
        sameAs: byNetwork.get(canon)!.sameAs,
        seed,
        config,
        base: v.base,
        changes: baseConfig ? configChanges(baseConfig, config) : [],
        key,
      });
    }
  }
  if (runs.length === 0) throw new DiagnosticError(result.diagnostics.length ? result.diagnostics : [diag('PST801', `the sweeps ${wanted.join(', ')} of ${file} have no runnable variant`, file)]);
  const warnings = result.diagnostics.filter((d) => d.severity !== 'error');
  return {
    format: 'pstc-ablate-plan/1',
    file,
    sweeps: wanted,
    budget: options.budget,
    seeds: options.seeds,
    runs,
    bases,
    folded,
    invalid,
    warnings: warnings.length ? renderDiagnostics(warnings, { sources: result.sources }) : '',
  };
}

/**
 * Errors a sweep variant caused: inside its `variant v { … }` body, or inside the sweep's axes
 * (an axis value that makes a variant invalid). Those fail that variant only; any other error
 * (the base model, a shift, syntax) is the file's, and stops the plan.
 */
function blameVariants(result: CheckResult): { byVariant: Map<string, Diagnostic[]>; unattributed: Diagnostic[] } {
  const byVariant = new Map<string, Diagnostic[]>();
  const unattributed: Diagnostic[] = [];
  const ranges: { variant: (name: string) => boolean; span: Span }[] = [];
  for (const [file, text] of result.sources) {
    for (const decl of parseProgram(text, file).program.decls) {
      if (decl.kind !== 'sweep') continue;
      for (const m of decl.body) {
        if (m.kind === 'variant') ranges.push({ variant: (n) => n === `${decl.name.name}.${m.name.name}`, span: m.span });
        if (m.kind === 'axis') ranges.push({ variant: (n) => n.startsWith(`${decl.name.name}[`), span: m.span });
      }
    }
  }
  const variants = result.sweeps.flatMap((s) => s.variants);
  for (const d of result.diagnostics.filter((x) => x.severity === 'error')) {
    const inside = d.span && ranges.filter((r) => r.span.file === d.span!.file && r.span.startOffset <= d.span!.startOffset && d.span!.endOffset <= r.span.endOffset);
    const owners = inside ? variants.filter((v) => inside.some((r) => r.variant(v))) : [];
    if (owners.length === 0) unattributed.push(d);
    for (const v of owners) byVariant.set(v, [...(byVariant.get(v) ?? []), d]);
  }
  return { byVariant, unattributed };
}

/** `ratio_tiny[patch_shift.ratio=1/4]` → `ratio_tiny_patch_shift.ratio_1_4`: safe in a file name and a Slurm log name. */
function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60);
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function diag(code: string, message: string, flag: string, hint?: string): Diagnostic {
  return { code, severity: 'error', message, flag, ...(hint ? { hint } : {}) };
}
