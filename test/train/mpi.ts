// Launching pstc under Open MPI in tests, and comparing the weights its runs end at: installed where missing (scripts/install-mpi.sh, as
// root), two ranks on this machine, and every byte of MPI traffic on loopback.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { readSafetensors } from '../../src/weights/index.js';

const root = join(import.meta.dirname, '..', '..');

/** Loopback only: no test sends anything to another interface of the machine. */
export const mpiEnv = { ...process.env, OMPI_MCA_oob_tcp_if_include: 'lo', OMPI_MCA_btl_tcp_if_include: 'lo', OMPI_MCA_btl: 'self,vader,tcp' };

/** null when mpirun is (now) there; else why not, for ctx.skip. */
export function mpiAvailable(): string | null {
  const has = () => spawnSync('sh', ['-c', 'command -v mpirun'], { encoding: 'utf8' }).status === 0;
  if (has()) return null;
  const r = spawnSync('bash', [join(root, 'scripts/install-mpi.sh')], { encoding: 'utf8' });
  return has() ? null : `Open MPI is not installed and could not be: ${r.stderr.trim()}`;
}

/** mpirun's arguments for `ranks` copies of `pstc ARGS`. */
export const mpirunArgs = (ranks: number, args: string[]) => ['--allow-run-as-root', '--oversubscribe', '-np', String(ranks), process.execPath, join(root, 'bin/pstc.js'), ...args];

/** Run mpirun to the end: exit code and output (stdout and stderr together). */
export function runMpi(ranks: number, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('mpirun', mpirunArgs(ranks, args), { env: mpiEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.on('data', (d) => (stderr += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

/** A run's weights at `step`, from its checkpoint. */
export function weightsAt(run: string, step: number): Map<string, { data: Float32Array }> {
  return readSafetensors(readFileSync(join(run, 'checkpoints', `step-${String(step).padStart(8, '0')}`, 'weights.safetensors')));
}

/** The largest |a − b| over the key biases (middle third of every qkv.bias) and over the rest. */
export function maxDifference(a: Map<string, { data: Float32Array }>, b: Map<string, { data: Float32Array }>): { keyBias: number; rest: number } {
  const worst = { keyBias: 0, rest: 0 };
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [name, t] of a) {
    const u = b.get(name)!.data;
    const third = t.data.length / 3;
    for (let i = 0; i < t.data.length; i++) {
      const d = Math.abs(t.data[i]! - u[i]!);
      if (name.endsWith('attn.qkv.bias') && i >= third && i < 2 * third) worst.keyBias = Math.max(worst.keyBias, d);
      else worst.rest = Math.max(worst.rest, d);
    }
  }
  return worst;
}
