// Property tests of the readers issue 22 added or hardened: annotation lists, the ablation plan,
// run records and markers, a checkpoint's state.json. Whatever the bytes, each returns (a checked
// value) or throws its diagnostic (DiagnosticError) — never anything else — and a plan it accepts
// names no path outside its directory. Inputs are valid files edited at random: a value anywhere in
// the JSON replaced by null, a negative or huge number, a path that climbs out, a list, text cut
// short; list lines built from hostile fields. CI runs a few hundred from the fixed seed
// (test/setup.ts); PSTC_FUZZ_RUNS=<n> (test/fuzz.ts) runs n of each.
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAnnotations } from '../../src/data/annotations.js';
import { AblationDir } from '../../src/explore/ablate/index.js';
import { markerProblem, planProblem, recordProblem, type SweepPlan } from '../../src/explore/ablate/record.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { loadCheckpoint, saveCheckpoint, stateProblem } from '../../src/train/checkpoint.js';
import { fuzzRuns, fuzzTimeout } from '../fuzz.js';

const dir = mkdtempSync(join(tmpdir(), 'pstc-hardening-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Values an edited file may hold where a field was. */
const HOSTILE: unknown[] = [null, -1, -100, 0, 1.5, 2 ** 32 + 3, 1e308, Number.MAX_SAFE_INTEGER + 2, '', '../../victim', '/etc', 'a/../../b', '.', '..', 'x\ny', [], {}, [null], { __proto__: { x: 1 } }, true, 'NaN'];
const hostile = fc.oneof(fc.constantFrom(...HOSTILE), fc.jsonValue({ maxDepth: 2 }));

/** Every path (list of keys) into a JSON value, to pick one to replace. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

function replaced(value: unknown, path: (string | number)[], by: unknown): unknown {
  if (path.length === 0) return by;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
  copy[path[0]!] = replaced(copy[path[0]!], path.slice(1), by);
  return copy;
}

/** A valid file edited: up to three fields replaced, sometimes a field dropped or the text cut short. */
function edits(valid: unknown): fc.Arbitrary<string> {
  const all = paths(valid);
  return fc
    .tuple(fc.array(fc.tuple(fc.nat(all.length - 1), hostile), { minLength: 1, maxLength: 3 }), fc.option(fc.nat(), { nil: undefined }))
    .map(([changes, cut]) => {
      let value = valid;
      for (const [at, by] of changes) value = replaced(value, all[at]!, by);
      const text = JSON.stringify(value) ?? 'null';
      return cut === undefined ? text : text.slice(0, cut % (text.length + 1));
    });
}

const config = { name: 'm', stages: [] };
const run = (index: number) => ({ index, id: `m-abcdef-s${index}`, sweep: 's', variant: `s.v${index}`, sameAs: [], seed: index, config, base: 'm', changes: [], key: `k${index}` });
const validPlan = { format: 'pstc-ablate-plan/1', file: 's.pst', sweeps: ['s'], budget: { steps: 0, batch: 1, timingIters: 1 }, seeds: [0, 1], runs: [run(0), run(1)], bases: [{ sweep: 's', base: 'm', config }], folded: [], invalid: [], warnings: '' };
const validRecord = {
  format: 'pstc-ablate-run/1', ...run(0), status: 'done', seconds: 1.5, startedAt: 't', finishedAt: 't', host: 'h',
  trained: false, metrics: {}, curves: [{ step: 1, split: 'train', loss: 1 }], params: 10, macs: 20,
  throughput: { forwardClipsPerSecond: 1, forwardLatencyMs: 1 }, memory: { plannedForwardBytes: 1, measuredForwardBytes: 1 }, adapter: 'a',
};
const validMarker = { id: 'm-abcdef-s0', host: 'h', pid: 123, startedAt: 't' };

describe('ablation files: edited plans, records and markers', () => {
  it('the validators accept the valid files', () => {
    expect(planProblem(validPlan)).toBeUndefined();
    expect(recordProblem(validRecord)).toBeUndefined();
    expect(markerProblem(validMarker)).toBeUndefined();
  });

  it('a plan read from disk is refused with PST803 or accepted — and then every path it names is inside DIR', () => {
    const root = join(dir, 'abl');
    const ablation = new AblationDir(root);
    ablation.create();
    fc.assert(
      fc.property(edits(validPlan), (text) => {
        writeFileSync(ablation.planPath, text);
        let plan: SweepPlan;
        try {
          plan = ablation.readPlan();
        } catch (e) {
          if (!(e instanceof DiagnosticError) || e.diagnostics[0]!.code !== 'PST803') throw e;
          return;
        }
        for (const r of plan.runs) {
          for (const p of [ablation.workDir(r.id), ablation.recordPath(r.id), ablation.markerPath(r.id)]) {
            expect(relative(resolve(root), resolve(p)).startsWith('..')).toBe(false);
          }
        }
      }),
      { numRuns: fuzzRuns(300) },
    );
  }, fuzzTimeout);

  it('records and markers: the validators never throw; an accepted record is one whose id is a run id', () => {
    fc.assert(
      fc.property(edits(validRecord), edits(validMarker), (record, marker) => {
        const parse = (t: string) => {
          try {
            return JSON.parse(t) as unknown;
          } catch {
            return undefined;
          }
        };
        const r = parse(record);
        if (recordProblem(r) === undefined) expect(String((r as { id: string }).id)).toMatch(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/);
        markerProblem(parse(marker));
      }),
      { numRuns: fuzzRuns(300) },
    );
  }, fuzzTimeout);
});

describe('checkpoints: an edited state.json', () => {
  it('loads, or is refused with PST701 — never a negative step, a null or another error', () => {
    const saved = saveCheckpoint(join(dir, 'run'), { step: 3, epoch: 0, batchInEpoch: 3, seed: 1, settings: { a: 1 } }, new Map([['w', { shape: [1], data: new Float32Array([1]) }]]), new Map());
    const valid = JSON.parse(JSON.stringify({ step: 3, epoch: 0, batchInEpoch: 3, seed: 1, settings: { a: 1 } }));
    const sums = JSON.parse(readFileSync(join(saved, 'state.json'), 'utf8')).sha256;
    fc.assert(
      fc.property(edits({ ...valid, sha256: sums }), (text) => {
        writeFileSync(join(saved, 'state.json'), text);
        try {
          const c = loadCheckpoint(saved);
          expect(stateProblem({ ...c.state, sha256: sums })).toBeUndefined();
          expect(c.state.step).toBeGreaterThanOrEqual(0);
        } catch (e) {
          if (!(e instanceof DiagnosticError) || e.diagnostics[0]!.code !== 'PST701') throw e;
        }
      }),
      { numRuns: fuzzRuns(300) },
    );
  }, fuzzTimeout);
});

describe('annotation lists', () => {
  const FIELDS = ['clip', 'a/b.mp4', '../up.mp4', '/abs.mp4', '0', '1', '7', '-1', '4294967299', '99999999999999999999', '1e3', '0x10', 'NaN', '', ' ', '\t', 'é', '\u0000', '8 9', '\r'];
  const line = fc.array(fc.constantFrom(...FIELDS), { maxLength: 5 }).map((f) => f.join(' '));
  const root = join(dir, 'root');
  mkdirSync(root);

  it('a list reads as samples with in-range labels inside root=, or is refused with PST61x naming file:line', () => {
    const file = join(dir, 'list.txt');
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.constantFrom('rawframes' as const, 'videos' as const), fc.boolean(), (lines, kind, skipBad) => {
        writeFileSync(file, lines.join('\n'));
        try {
          const samples = readAnnotations(file, { kind, classes: 8, root, skipBad });
          for (const s of samples) {
            expect(s.labels.every((l) => Number.isSafeInteger(l) && l >= 0 && l < 8)).toBe(true);
            expect(relative(root, resolve(root, s.path)).startsWith('..')).toBe(false);
          }
        } catch (e) {
          if (!(e instanceof DiagnosticError)) throw e;
          expect(e.diagnostics[0]!.code).toMatch(/^PST61[0-7]$/);
        }
      }),
      { numRuns: fuzzRuns(300) },
    );
  }, fuzzTimeout);
});
