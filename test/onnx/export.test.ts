// The ONNX file itself and the commands around it: what the file holds (opset, the weights under
// their official state-dict names, metadata with the source's SHA-256, input and output shapes),
// views lowered without per-element tables where a row gather does, external data loading in
// ONNX Runtime with the same numbers, `pstc export` (atomic write, refusing its inputs, a bad path,
// a dynamic batch) and `pstc run --backend onnxruntime` against `--backend webgpu`.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { EXPORT_UNTIL, exportOnnx } from '../../backends/onnx/export.js';
import { lowerGraph } from '../../backends/onnx/lower.js';
import { blockSize } from '../../backends/onnx/views.js';
import { decodeModel, OPSET } from '../../backends/onnx/write.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { size } from '../../src/ir/graph.js';
import { lowerModel } from '../../src/passes/lower.js';
import { initWeights, readNpy, weightSpecs } from '../../src/weights/index.js';
import { runCli } from '../cli/run-cli.js';
import { graphFor, tinyModel } from '../passes/helpers.js';
import { maxNormRelativeError } from '../webgpu/util.js';
import { runOnnx } from './util.js';

const dir = mkdtempSync(join(tmpdir(), 'pstc-onnx-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Message = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('the exported file', () => {
  const model = tinyModel('pst-tiny');
  const input = { batch: 2, frames: model.input.frames, size: model.input.size };
  const weights = initWeights(model, 7);
  const exported = exportOnnx(model, input, weights, { provenance: { version: '9.9.9', source: { path: 'pst-tiny.pst', sha256: 'ab'.repeat(32) } } });
  const decoded = decodeModel(exported.model) as Message;

  it('declares ONNX opset 17, the producer and the metadata', () => {
    expect(decoded.opset_import).toEqual([{ domain: '', version: OPSET }]);
    expect(decoded.producer_name).toBe('pstc');
    expect(decoded.producer_version).toBe('9.9.9');
    const meta = Object.fromEntries((decoded.metadata_props as { key: string; value: string }[]).map((e) => [e.key, e.value]));
    expect(meta['pstc.version']).toBe('9.9.9');
    expect(meta['pstc.source_sha256']).toBe('ab'.repeat(32));
    expect(meta['pstc.input_layout']).toBe('NCTHW');
    expect(meta['pstc.input_shape']).toBe('2x3x8x32x32');
    expect(meta['pstc.passes']).toBe('lower,autodiff,recompute,fold,commute');
  });

  it('holds every weight as an initializer under its official state-dict name and shape', () => {
    const initializers = new Map((decoded.graph.initializer as Message[]).map((t) => [t.name as string, t]));
    for (const spec of weightSpecs(model)) {
      const t = initializers.get(spec.name);
      expect(t, spec.name).toBeDefined();
      expect(t!.dims).toEqual(spec.shape);
      const data = new Float32Array(Uint8Array.from(t!.raw_data as number[]).buffer);
      expect(Array.from(data)).toEqual(Array.from(weights.get(spec.name)!.data));
    }
  });

  it("names the input 'clip' N×C×T×H×W and the outputs logits, features", () => {
    const dims = (v: Message) => (v.type.tensor_type.shape.dim as Message[]).map((d) => d.dim_value);
    expect(decoded.graph.input.map((v: Message) => v.name)).toEqual(['clip']);
    expect(dims(decoded.graph.input[0])).toEqual([2, 3, 8, 32, 32]);
    expect(decoded.graph.output.map((v: Message) => v.name)).toEqual(['logits', 'features']);
    expect(dims(decoded.graph.output[0])).toEqual([2, 10]);
  });

  it('gathers rows, not elements: at most half as many indices as viewed elements', () => {
    const graph = graphFor(model, input, EXPORT_UNTIL);
    const viewed = graph.nodes.reduce((n, node) => n + (node.op.kind === 'view' ? size(node.shape) : 0), 0);
    const tables = (decoded.graph.initializer as Message[]).filter((t) => /\/index(_\d+)?$/.test(t.name as string));
    expect(tables.length).toBeGreaterThan(0);
    const indexed = tables.reduce((n, t) => n + (t.dims as number[]).reduce((a, b) => a * b, 1), 0);
    // pst-tiny's narrowest runs: the TCS fold (16 channels / 8 = 2) and the patch embedding's rows of 4 pixels.
    expect(indexed).toBeLessThanOrEqual(viewed / 2);
    const ops = new Set((decoded.graph.node as Message[]).map((n) => n.op_type as string));
    expect([...ops].sort()).toEqual(['Add', 'Concat', 'Div', 'Erf', 'Gather', 'Gemm', 'Identity', 'LayerNormalization', 'MatMul', 'Mul', 'ReduceMean', 'Reshape', 'Softmax', 'Transpose']);
  });

  it('finds the largest block a table reads as whole rows', () => {
    // A transpose of a 3×4 matrix reads no two consecutive elements: K = 1.
    expect(blockSize(Int32Array.from([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]), 12)).toBe(1);
    // Rows of 4 swapped, with a zero row: K = 4.
    expect(blockSize(Int32Array.from([4, 5, 6, 7, -1, -1, -1, -1, 0, 1, 2, 3]), 8)).toBe(4);
    // Runs of 2 that start at odd positions are not rows of 2.
    expect(blockSize(Int32Array.from([1, 2, 3, 0]), 4)).toBe(1);
  });

  it('puts the tensors in an external data file ONNX Runtime reads, with the same numbers', async () => {
    const external = exportOnnx(model, input, weights, { provenance: { version: 'test' }, external: 'always', dataLocation: 'model.onnx.data' });
    expect(external.external).toBeDefined();
    const ext = decodeModel(external.model) as Message;
    const big = (ext.graph.initializer as Message[]).filter((t) => t.data_location === 1);
    expect(big.length).toBeGreaterThan(0);
    for (const t of big) {
      const entry = Object.fromEntries((t.external_data as Message[]).map((e) => [e.key, e.value]));
      expect(Number(entry.offset) % 4096).toBe(0);
      expect(entry.location).toBe('model.onnx.data');
    }
    const path = join(dir, 'model.onnx');
    writeFileSync(path, external.model);
    writeFileSync(join(dir, 'model.onnx.data'), Buffer.concat(external.external!.pieces));
    const clip = Float32Array.from({ length: 2 * 3 * 8 * 32 * 32 }, (_, i) => Math.sin(i));
    const session = await ort.InferenceSession.create(path);
    const fromFile = await session.run({ clip: new ort.Tensor('float32', clip, [2, 3, 8, 32, 32]) });
    await session.release();
    const inMemory = await runOnnx(exported, clip, 'all');
    expect(Array.from(fromFile.logits!.data as Float32Array)).toEqual(Array.from(inMemory.logits!));
  });
});

describe('what ONNX cannot hold', () => {
  it('a training graph is PST901, naming the op', () => {
    const model = tinyModel('pst-tiny');
    const graph = lowerModel(model, { batch: 2, frames: 8, size: 32 }, { mode: 'train', labelSmoothing: 0.1 });
    let error: unknown;
    try {
      lowerGraph(graph, initWeights(model, 1));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DiagnosticError);
    expect((error as DiagnosticError).diagnostics[0]!.code).toBe('PST901');
    expect((error as DiagnosticError).message).toMatch(/cannot be expressed in an ONNX inference export/);
  });
});

describe('pstc export', () => {
  it('writes the model atomically with its metadata, and ONNX Runtime runs it', async () => {
    const out = join(dir, 'pst-tiny.onnx');
    const r = await runCli(['export', 'models/tiny/pst-tiny.pst', '--onnx', out, '--random-weights', '3', '--batch', '1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*pst-tiny\.onnx: pst_t_tiny, clip 1×3×8×32×32 → logits 1×10, features 1×32×4×4×4; \d+ nodes, \d+ initializers, ONNX opset 17/);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    const bytes = readFileSync(out);
    const meta = Object.fromEntries(((decodeModel(bytes) as Message).metadata_props as Message[]).map((e) => [e.key, e.value]));
    expect(meta['pstc.source_sha256']).toBe(createHash('sha256').update(readFileSync('models/tiny/pst-tiny.pst')).digest('hex'));
    for (const level of ['disabled', 'all'] as const) {
      const session = await ort.InferenceSession.create(out, { graphOptimizationLevel: level });
      const y = await session.run({ clip: new ort.Tensor('float32', new Float32Array(3 * 8 * 32 * 32).fill(0.5), [1, 3, 8, 32, 32]) });
      expect(y.logits!.dims).toEqual([1, 10]);
      await session.release();
    }
  }, 120_000);

  it('exports a sweep variant chosen with -m, with --external-data beside it', async () => {
    const out = join(dir, 'variant.onnx');
    const r = await runCli(['export', 'models/tiny/ablations-tiny.pst', '-m', 'placement_tiny.tcs_all', '--onnx', out, '--random-weights', '1', '--external-data']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/placement_tiny\.tcs_all/);
    expect(r.stdout).toMatch(/wrote .*variant\.onnx\.data: external tensor data/);
    expect(existsSync(`${out}.data`)).toBe(true);
    const session = await ort.InferenceSession.create(out);
    expect(session.outputNames).toEqual(['logits', 'features']);
    await session.release();
  }, 120_000);

  it('refuses to overwrite an input, a missing folder, a missing --onnx and a dynamic batch, each naming the flag', async () => {
    const cases: [string[], RegExp][] = [
      [['--onnx', 'models/tiny/pst-tiny.pst', '--random-weights', '1'], /--onnx: cannot write .*it is an input of this command/],
      [['--onnx', join(dir, 'no-such-folder', 'x.onnx'), '--random-weights', '1'], /--onnx: cannot write .*no-such-folder.* does not exist/],
      [['--random-weights', '1'], /--onnx: missing/],
      [['--onnx', join(dir, 'x.onnx')], /--weights: missing/],
      [['--onnx', join(dir, 'x.onnx'), '--random-weights', '1', '--batch', 'dynamic'], /--batch: a dynamic batch is not supported/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['export', 'models/tiny/pst-tiny.pst', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(readFileSync('models/tiny/pst-tiny.pst', 'utf8')).toMatch(/model pst_t_tiny/);
  });
});

describe('pstc run --backend onnxruntime', () => {
  it('writes the logits of --backend webgpu within 1e-5, and says which runtime ran', async () => {
    const outputs: Float32Array[] = [];
    for (const backend of ['onnxruntime', 'webgpu']) {
      const out = join(dir, `${backend}.npy`);
      const r = await runCli(['run', 'models/tiny/tps-tiny.pst', '--random-weights', '5', '--random-input', '6', '--out', out, '--backend', backend]);
      expect(r.code, r.stderr).toBe(0);
      if (backend === 'onnxruntime') expect(r.stderr).toMatch(/on ONNX Runtime 1\.\d+\.\d+ \(CPU, 2 threads\)/);
      outputs.push(readNpy(readFileSync(out)).data as Float32Array);
    }
    expect(outputs[0]!.length).toBe(10);
    expect(maxNormRelativeError(outputs[0]!, outputs[1]!)).toBeLessThanOrEqual(1e-5);
  }, 300_000);

  it('refuses --precision f16 and an unknown backend', async () => {
    const f16 = await runCli(['run', 'models/tiny/tps-tiny.pst', '--random-weights', '1', '--random-input', '1', '--out', join(dir, 'f.npy'), '--backend', 'onnxruntime', '--precision', 'f16']);
    expect(f16.code).toBe(2);
    expect(f16.stderr).toMatch(/--precision f16: half-float storage is the WebGPU backend's/);
    const bad = await runCli(['run', 'models/tiny/tps-tiny.pst', '--random-weights', '1', '--random-input', '1', '--out', join(dir, 'f.npy'), '--backend', 'cuda']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--backend: 'cuda' is not a backend; use webgpu or onnxruntime/);
  });
});

describe('pstc bench --backend onnxruntime', () => {
  it('times the export in ONNX Runtime beside WebGPU (--baseline-backend), and keeps training on WebGPU', async () => {
    const r = await runCli(['bench', 'models/tiny/tsm-tiny.pst', '--backend', 'onnxruntime', '--baseline', 'models/tiny/tsm-tiny.pst', '--baseline-backend', 'webgpu', '--warmup', '0', '--iters', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { results: { backend: string; latencyMs: { median: number } }[]; ratio: number };
    expect(report.results.map((x) => x.backend)).toEqual([expect.stringMatching(/^ONNX Runtime 1\.\d+\.\d+ \(CPU, 2 threads\)$/), 'webgpu']);
    expect(report.ratio).toBeGreaterThan(0);
    const train = await runCli(['bench', 'models/tiny/tsm-tiny.pst', '--backend', 'onnxruntime', '--train']);
    expect(train.code).toBe(2);
    expect(train.stderr).toMatch(/--backend onnxruntime: training steps run on WebGPU/);
  }, 300_000);
});
