// `--backend`'s default (src/cli/backend.ts): ONNX Runtime where the only WebGPU adapter is a
// software one, WebGPU otherwise and whenever a WebGPU-only flag is given; PSTC_BACKEND sets it.
// And `pstc eval --backend onnxruntime`: the same figures as WebGPU on the same weights and set.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { probeAdapter } from '../../backends/webgpu/device.js';
import { defaultBackend } from '../../src/cli/backend.js';
import { initWeights, loadModel, writeSafetensors } from '../../src/index.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { runCli as run } from './run-cli.js';

const MODEL = 'models/tiny/pst-tiny.pst';
const dir = mkdtempSync(join(tmpdir(), 'pstc-backend-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const savedEnv = process.env.PSTC_BACKEND;
afterEach(() => {
  if (savedEnv === undefined) delete process.env.PSTC_BACKEND;
  else process.env.PSTC_BACKEND = savedEnv;
});

const LAVAPIPE = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)' };
const GPU = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100 80GB HBM3' };

describe("--backend's default", () => {
  it('is onnxruntime, saying why, when the adapter is a software one; webgpu on a GPU, with no adapter, or with a WebGPU-only flag', () => {
    const soft = defaultBackend({ info: LAVAPIPE, software: true });
    expect(soft.backend).toBe('onnxruntime');
    expect(soft.note).toBe('backend: onnxruntime (the only WebGPU adapter is a software one, llvmpipe; --backend webgpu to use it)');
    expect(defaultBackend({ info: GPU, software: false })).toEqual({ backend: 'webgpu' });
    expect(defaultBackend(undefined)).toEqual({ backend: 'webgpu' });
    expect(defaultBackend({ info: LAVAPIPE, software: true }, { webgpuOnly: '--profile' })).toEqual({ backend: 'webgpu' });
    // PSTC_BACKEND sets the default either way; a WebGPU-only flag still wins.
    expect(defaultBackend({ info: GPU, software: false }, { env: 'onnxruntime' })).toEqual({ backend: 'onnxruntime' });
    expect(defaultBackend({ info: LAVAPIPE, software: true }, { env: 'webgpu' })).toEqual({ backend: 'webgpu' });
    expect(defaultBackend(undefined, { env: 'onnxruntime', webgpuOnly: '--train' })).toEqual({ backend: 'webgpu' });
    expect(() => defaultBackend(undefined, { env: 'cuda' })).toThrow(/PSTC_BACKEND: 'cuda' is not a backend; use webgpu or onnxruntime/);
  });

  it('pstc run without --backend follows the adapter; PSTC_BACKEND and --backend override it', async () => {
    const probe = await probeAdapter();
    const out = join(dir, 'logits.npy');
    const args = ['run', MODEL, '--random-weights', '1', '--random-input', '1', '--out', out];
    const plain = await run(args);
    expect(plain.code, plain.stderr).toBe(0);
    if (probe?.software) {
      expect(plain.stderr).toMatch(/^backend: onnxruntime \(the only WebGPU adapter is a software one, \w+; --backend webgpu to use it\)\n/);
      expect(plain.stderr).toMatch(/on ONNX Runtime/);
    } else {
      expect(plain.stderr).not.toMatch(/backend:/);
    }
    process.env.PSTC_BACKEND = 'webgpu';
    const env = await run(args);
    expect(env.code, env.stderr).toBe(0);
    expect(env.stderr).not.toMatch(/backend:|ONNX Runtime/);
    process.env.PSTC_BACKEND = 'onnxruntime';
    const flag = await run([...args, '--backend', 'webgpu']);
    expect(flag.stderr).not.toMatch(/backend:|ONNX Runtime/);
    process.env.PSTC_BACKEND = 'cuda';
    const bad = await run(args);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/PSTC_BACKEND: 'cuda' is not a backend/);
  });

  it('bench --train without --backend runs on WebGPU without a word, even where ONNX Runtime is the default', async () => {
    process.env.PSTC_BACKEND = 'onnxruntime';
    const r = await run(['bench', MODEL, '--train', '--batch', '1', '--warmup', '0', '--iters', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/backend:/);
    expect(JSON.parse(r.stdout).results[0].backend).toBe('webgpu');
    // Asked for explicitly, the combination is refused as before.
    const refused = await run(['bench', MODEL, '--train', '--backend', 'onnxruntime']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--backend onnxruntime: training steps run on WebGPU/);
    // Building and timing a training step of pst-tiny: 22 s alone on lavapipe, over 60 s with the suite beside it.
  }, 300_000);
});

describe('pstc eval --backend onnxruntime', () => {
  it('gives the top-1, order-pair accuracy and loss that WebGPU gives (loss within 1e-4)', async () => {
    const { model } = loadModel(MODEL, undefined, readFromDisk);
    const weights = join(dir, 'w.safetensors');
    writeFileSync(weights, writeSafetensors(initWeights(model!, 7)));
    // 6 clips in batches of 4: the last batch is padded.
    const evaluate = async (backend: string) => {
      const r = await run(['eval', MODEL, '--weights', weights, '--data', 'synthetic:motion,train=4,val=6,tile=1', '--batch', '4', '--json', '--backend', backend]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { backend: string; samples: number; top1: number; top5: number; loss: number; pairAccuracy?: number };
    };
    const gpu = await evaluate('webgpu');
    const onnx = await evaluate('onnxruntime');
    expect(gpu.backend).toBe('webgpu');
    expect(onnx.backend).toBe('onnxruntime');
    expect(onnx.samples).toBe(6);
    expect(onnx.samples).toBe(gpu.samples);
    expect(onnx.top1).toBe(gpu.top1);
    expect(onnx.top5).toBe(gpu.top5);
    expect(onnx.pairAccuracy).toBe(gpu.pairAccuracy);
    expect(Math.abs(onnx.loss - gpu.loss)).toBeLessThan(1e-4);
  });
});
