// `pstc train` as a user runs it: one SGD step saves exactly W − ∇L (the gradient from the float64
// interpreter's autodiff on the same batch), a run killed with SIGKILL and resumed ends with the
// same weights, bit for bit, as one that never stopped (its CLI process dying with the command the
// user killed), one trainer holds a run directory at a time, and the user's mistakes are diagnostics.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { compileProgram } from '../../src/passes/pipeline.js';
import { loadModelWithSettings } from '../../src/lang/overrides.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { initWeights, npyHeaderBytes, readSafetensors, writeNpy, writeSafetensors } from '../../src/weights/index.js';
import { freshSeed, maxNormRelativeError, randomArray, rng } from '../webgpu/util.js';
import { runCli as run } from '../cli/run-cli.js';
import { RUN_LOCK } from '../../src/train/run-lock.js';
import { processState } from '../../src/train/process-state.js';

const MODEL = 'models/tiny/pst-tiny.pst';
const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pstc-train-'));

/** The pids of a process's live children (Linux /proc). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const state = processState(Number(entry));
    if (state && state.ppid === pid && state.running) found.push(Number(entry));
  }
  return found;
}

/** Waits until a process has ended (or is a zombie): true, or false after `ms`. */
async function gone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!processState(pid)?.running) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** A small npy dataset: random clips, labels 0…classes−1. */
function npyData(name: string, n: number, seed: number, labels?: number[], edit?: (clips: Float32Array) => void): string {
  const shape = [n, 3, 8, 32, 32];
  const clips = randomArray(rng(seed), shape.reduce((a, b) => a * b, 1));
  edit?.(clips);
  const y = labels ?? Array.from({ length: n }, (_, i) => i % 10);
  const clipsPath = join(dir, `${name}-clips.npy`);
  const labelsPath = join(dir, `${name}-labels.npy`);
  writeFileSync(clipsPath, writeNpy(shape, clips));
  const header = npyHeaderBytes('<i4', [n]);
  const out = new Uint8Array(header.length + 4 * n);
  out.set(header);
  out.set(new Uint8Array(Int32Array.from(y).buffer), header.length);
  writeFileSync(labelsPath, out);
  return `npy:${clipsPath},${labelsPath}`;
}

describe('pstc train', () => {
  it('one SGD step with lr 1, no momentum, no decay saves W − ∇L (∇L: the interpreter\'s autodiff, float64)', async () => {
    const seed = freshSeed();
    const settings = ['drop_path=0', 'head.dropout=0'];
    const { model } = loadModelWithSettings(MODEL, undefined, settings, readFromDisk);
    const w0 = initWeights(model, seed % 1000);
    const init = join(dir, 'w0.safetensors');
    writeFileSync(init, writeSafetensors(w0));
    const data = npyData('sgd', 4, seed);
    const out = join(dir, 'sgd-run');
    const r = await run(['train', MODEL, ...settings.flatMap((s) => ['--set', s]), '--data', data, '--weights', init, '--steps', '1', '--batch', '4',
      '--optimizer', 'sgd', '--lr', '1', '--warmup', '0', '--momentum', '0', '--weight-decay', '0', '--no-shuffle', '--out', out]); // --warmup 0: pst-tiny's train section warms up over 25 steps
    expect(r.code, r.stderr).toBe(0);
    const saved = readSafetensors(readFileSync(join(out, 'checkpoints', 'step-00000001', 'weights.safetensors')));

    // The same batch through the reference: clips and labels as the npy set holds them.
    const { graph } = compileProgram(model, { batch: 4, frames: 8, size: 32 }, { training: { labelSmoothing: 0 }, until: 'fold' });
    const clips = Float64Array.from(randomArray(rng(seed), 4 * 3 * 8 * 32 * 32));
    const ref = interpret(graph!, { clip: clips, labels: [0, 1, 2, 3] }, w0, { rngKey: [0, 0] });
    // W' = W − ∇L up to float32 rounding: per element within 2 ulps of W − ∇L plus 1e-4 of the
    // gradient's scale (the device's gradient against the float64 one).
    let worst = 0;
    for (const [name, g] of ref.grads!) {
      const w = w0.get(name)!.data;
      const got = saved.get(name)!.data;
      const scale = g.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      for (let i = 0; i < g.length; i++) {
        const want = w[i]! - g[i]!;
        const ulp = 2 ** (Math.floor(Math.log2(Math.max(Math.abs(want), 2 ** -126))) - 23);
        const excess = Math.abs(got[i]! - want) / (2 * ulp + 1e-4 * scale);
        worst = Math.max(worst, excess);
        if (excess > 1) expect.fail(`${name}[${i}]: saved ${got[i]}, W − ∇L = ${want} (seed ${seed})`);
      }
    }
    console.log(`one SGD step: W' against W − ∇L over ${ref.grads!.size} parameters: worst deviation ${worst.toFixed(3)} of the allowance (seed ${seed})`);
  }, 300_000);

  it('a run killed with SIGKILL after a checkpoint and resumed ends bit-identical to an uninterrupted one', async () => {
    const data = 'synthetic:motion,train=48,val=16';
    const args = (out: string) => [join(root, 'bin/pstc.js'), 'train', MODEL, '--data', data, '--steps', '8', '--batch', '4', '--checkpoint-every', '2', '--log-every', '1', '--seed', '3', '--out', out];
    const whole = join(dir, 'whole');
    const once = await run(args(whole).slice(1));
    expect(once.code, once.stderr).toBe(0);
    // The summary times the first step apart from the 7 warm ones after it (ablate's "compile s").
    const summary = JSON.parse(readFileSync(join(whole, 'summary.json'), 'utf8'));
    expect(summary.firstStepSeconds).toBeGreaterThan(0);
    expect(summary.warm.steps).toBe(7);

    const broken = join(dir, 'broken');
    // Kill -9 the process as soon as the step-4 checkpoint is in place (it is mid-step 5 or later then).
    // bin/pstc.js runs the CLI in a child process of its own; the SIGKILL goes to the pstc process the
    // user started, which cannot pass it on, and the CLI process must die with it, not go on
    // training beside the --resume below (it once did, and appended a step to the log after the
    // resume had trimmed it).
    const child = spawn(process.execPath, args(broken), { stdio: 'ignore' });
    let cli: number | undefined;
    const killed = await new Promise<boolean>((resolve) => {
      const poll = setInterval(() => {
        const latest = join(broken, 'latest.json');
        if (existsSync(latest) && JSON.parse(readFileSync(latest, 'utf8')).step >= 4) {
          clearInterval(poll);
          cli = childrenOf(child.pid!)[0];
          child.kill('SIGKILL');
        }
      }, 20);
      child.on('exit', (_code, signal) => {
        clearInterval(poll);
        resolve(signal === 'SIGKILL');
      });
    });
    expect(killed, 'the run was killed before it finished').toBe(true);
    expect(cli, 'the pstc process runs the CLI in a child process').toBeDefined();
    expect(await gone(cli!, 10_000), `the CLI process ${cli} outlived the pstc process that was killed`).toBe(true);
    const resumed = await run([...args(broken).slice(1), '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .* at step [4-7] of 8/);
    const a = readFileSync(join(whole, 'checkpoints', 'step-00000008', 'weights.safetensors'));
    const b = readFileSync(join(broken, 'checkpoints', 'step-00000008', 'weights.safetensors'));
    expect(Buffer.compare(a, b), 'final weights differ').toBe(0);
    const optA = readFileSync(join(whole, 'checkpoints', 'step-00000008', 'optimizer.safetensors'));
    const optB = readFileSync(join(broken, 'checkpoints', 'step-00000008', 'optimizer.safetensors'));
    expect(Buffer.compare(optA, optB), 'final optimizer state differs').toBe(0);
    // The log has each step once, in order.
    const steps = readFileSync(join(broken, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.kind === 'train').map((r) => r.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  }, 600_000);

  it('the CLI process dies with the pstc process the user killed, even while it prints nothing', async () => {
    // Logging and checkpointing once in 1000 steps: a CLI process that outlived its pstc process would
    // train on silently (nothing it writes to the closed pipe would stop it) for minutes.
    const out = join(dir, 'orphan');
    const child = spawn(process.execPath, [join(root, 'bin/pstc.js'), 'train', MODEL, '--data', 'synthetic:motion,train=64,val=8', '--steps', '2000', '--batch', '4', '--log-every', '1000', '--checkpoint-every', '1000', '--eval-every', '1000', '--out', out], { stdio: 'ignore' });
    let cli: number | undefined;
    try {
      // Once the run has written its settings it is building its step and then training.
      const until = Date.now() + 120_000;
      while (Date.now() < until && !(existsSync(join(out, 'settings.json')) && (cli = childrenOf(child.pid!)[0]) !== undefined)) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(cli, 'the pstc process runs the CLI in a child process').toBeDefined();
      await new Promise((r) => setTimeout(r, 1000));
      child.kill('SIGKILL');
      expect(await gone(cli!, 15_000), `the CLI process ${cli} went on after its pstc process was killed`).toBe(true);
    } finally {
      child.kill('SIGKILL');
      if (cli !== undefined && processState(cli)?.running) process.kill(cli, 'SIGKILL');
    }
  }, 300_000);

  it('Ctrl-C (SIGINT) finishes the step, writes a checkpoint and exits; --resume continues from it', async () => {
    const out = join(dir, 'sigint');
    const args = [join(root, 'bin/pstc.js'), 'train', MODEL, '--data', 'synthetic:motion,train=64,val=8', '--steps', '200', '--batch', '4', '--log-every', '1', '--checkpoint-every', '1000', '--out', out];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const code = await new Promise<number | null>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(join(out, 'log.jsonl')) && readFileSync(join(out, 'log.jsonl'), 'utf8').includes('"step":2')) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 20);
      child.on('exit', (c) => {
        clearInterval(poll);
        resolve(c);
      });
    });
    // 130 (128 + SIGINT): a script tells an interrupted run from a finished one.
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/SIGINT: writing a checkpoint/);
    expect(stderr).toMatch(/stopped: \d+ steps/);
    expect(stderr).toMatch(/interrupted at step \d+ \(SIGINT\); resume with the same command and --resume/);
    const step = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')).step;
    expect(step).toBeGreaterThanOrEqual(2);
    expect(step).toBeLessThan(200);
  }, 300_000);

  it('mistakes are diagnostics naming the flag, and nothing already written is lost', async () => {
    const out = join(dir, 'mistakes');
    expect((await run(['train', MODEL, '--steps', '1', '--out', out])).stderr).toMatch(/--data: missing/);
    const bad = await run(['train', MODEL, '--data', npyData('bad-label', 4, 1, [0, 1, 2, 10]), '--steps', '1', '--batch', '4', '--out', out]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/PST6\d\d/);
    expect(bad.stderr).toMatch(/10/);
    const noHead = await run(['train', MODEL, '--set', 'head.classes=12', '--data', 'synthetic:motion,train=8,val=4', '--steps', '1', '--batch', '4', '--out', out]);
    expect(noHead.code, noHead.stderr).toBe(0);
    // A second run into the same --out without --resume is refused: the first one's files stay.
    const again = await run(['train', MODEL, '--set', 'head.classes=12', '--data', 'synthetic:motion,train=8,val=4', '--steps', '1', '--batch', '4', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/PST704.*--resume/s);
    expect(existsSync(join(out, 'checkpoints', 'step-00000001', 'weights.safetensors'))).toBe(true);
    const mismatch = await run(['train', MODEL, '--set', 'head.classes=12', '--data', 'synthetic:motion,train=8,val=4', '--steps', '2', '--batch', '4', '--out', out, '--resume']);
    expect(mismatch.stderr).toMatch(/PST705/);
    // A NaN in the 2nd batch's clips: step 1 trains and is checkpointed, step 2's loss is NaN.
    const nanData = npyData('nan', 8, 5, undefined, (clips) => (clips[4 * 3 * 8 * 32 * 32 + 17] = Number.NaN));
    const nan = await run(['train', MODEL, '--data', nanData, '--steps', '4', '--batch', '4', '--no-shuffle', '--checkpoint-every', '1', '--log-every', '2', '--out', join(dir, 'nan')]);
    expect(nan.code, nan.stderr).toBe(1);
    expect(nan.stderr).toMatch(/PST706.*at step 2 .*checkpoint \(step 1\)/s);
    // The checkpoint before the failure is the run's latest; nothing after it was written.
    expect(JSON.parse(readFileSync(join(dir, 'nan', 'latest.json'), 'utf8')).step).toBe(1);
  }, 600_000);

  it('one trainer per --out: a live holder of the run is named and refused; a dead one\'s lock is taken over and released', async () => {
    const out = join(dir, 'locked');
    mkdirSync(out);
    const lock = join(out, RUN_LOCK);
    const trainArgs = ['train', MODEL, '--data', 'synthetic:motion,train=8,val=4', '--steps', '1', '--batch', '4', '--out', out];
    // A live process on this host holds it (a sleeping process stands in for another trainer).
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120_000)']);
    writeFileSync(lock, JSON.stringify({ pid: holder.pid, host: hostname(), since: '2026-12-06T00:00:00Z' }));
    const refused = await run(trainArgs);
    holder.kill('SIGKILL');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`PST714.*in use by another pstc train \\(pid ${holder.pid}, since 2026-12-06T00:00:00Z\\).*--out`, 's'));
    expect(existsSync(join(out, 'latest.json')), 'the refused run wrote nothing').toBe(false);
    // The holder died without removing it (SIGKILL): its pid no longer runs, so the lock is stale.
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('exit', r));
    writeFileSync(lock, JSON.stringify({ pid: dead.pid, host: hostname(), since: '2026-12-06T00:00:00Z' }));
    const taken = await run(trainArgs);
    expect(taken.code, taken.stderr).toBe(0);
    expect(existsSync(lock), 'the run released its lock when it ended').toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')).step).toBe(1);
  }, 300_000);
});
