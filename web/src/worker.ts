// The compiler in a Web Worker, so that checking, explaining, planning and running never stall the
// page's typing. It is the same compiler the CLI runs: checkFiles over an in-memory file map (the
// bundled models/ with the editor's text laid over its path), explain-report.ts for the report,
// the WebGPU runtime on navigator.gpu for runs.
import models from 'pstc:models';
import { checkFiles, loadModel } from '../../src/lang/elaborate.js';
import { DiagnosticError, hasErrors, sortDiagnostics, type Diagnostic } from '../../src/lang/diagnostics.js';
import { formatSource } from '../../src/lang/format.js';
import type { ReadFile } from '../../src/lang/load.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { clipShape } from '../../src/lang/facts.js';
import { explainModel, formatRange, renderReport } from '../../src/cli/explain-report.js';
import { formatBytes, formatCount, formatMacs } from '../../src/cli/table.js';
import { patternToSvg, patternToText } from '../../src/explore/pattern-picture.js';
import { NoAdapterError, openDeviceOn, type PstcDevice } from '../../backends/webgpu/gpu-device.js';
import { compileModel, type ModelInput } from '../../backends/webgpu/runtime.js';
import { initWeights } from '../../src/weights/init.js';
import { randomClip } from '../../src/cli/clips.js';
import { readNpy } from '../../src/weights/npy.js';
import { exportOnnx } from '../../backends/onnx/export.js';
import type { Explained, PageDiagnostic, Reply, Request } from './protocol.js';

/** pstc's version, from package.json (web/build.mjs defines it; src/cli/version.ts reads a file). */
declare const __PSTC_VERSION__: string;

const post = (reply: Reply, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(reply, transfer);

/** The page's files: what the user edited, else the bundled models/. */
function readerWith(edited: Record<string, string>): ReadFile {
  return (file) => (Object.hasOwn(edited, file) ? edited[file] : Object.hasOwn(models, file) ? models[file] : undefined);
}

function pageDiagnostic(d: Diagnostic): PageDiagnostic {
  const s = d.span;
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    hint: d.hint,
    expected: d.expected,
    ...(s ? { file: s.file, from: s.startOffset, to: s.endOffset, line: s.startLine, col: s.startCol } : { file: d.flag }),
  };
}

function explained(model: ModelConfig): Explained {
  const report = explainModel(model, { ...model.input });
  const c = report.cost;
  const last = report.receptiveField[report.receptiveField.length - 1];
  return {
    summary: {
      model: model.name,
      params: c.total.params,
      backboneParams: c.total.backboneParams,
      macs: c.total.macs,
      activationBytes: c.total.activationBytes,
      peakBytes: c.total.peakBytes,
      plannedDeviceBytes: report.devicePlan.plannedPeakBytes.total,
      kernels: report.devicePlan.kernels,
      dispatches: report.devicePlan.dispatchesPerForward,
      reachable: last ? `${last.reachableFrames}/${last.frames}` : '',
      shifts: report.shifts.map((s) => `stage ${s.stage}: ${s.blocks.join(', ')}`),
    },
    text: renderReport(report, false),
    parts: c.parts.map((p) => ({
      part: p.part,
      output: p.outputShape.join('×'),
      params: formatCount(p.params),
      macs: formatMacs(p.macs),
      activations: formatBytes(p.activationBytes),
      peak: formatBytes(p.peakBytes),
    })),
    total: {
      params: formatCount(c.total.params),
      macs: formatMacs(c.total.macs),
      activations: formatBytes(c.total.activationBytes),
      peak: formatBytes(c.total.peakBytes),
    },
    receptiveField: report.receptiveField.map((r) => ({
      stage: r.stage,
      tokens: r.frames,
      block: formatRange(r.blockRange),
      accumulated: formatRange(r.accumulated),
      reachable: `${r.reachableFrames}/${r.frames}`,
    })),
    principles: report.principles.map((n) => ({ severity: n.severity, stage: n.stage, text: `${n.shift}: ${n.principle}: ${n.message}` })),
    patterns: report.patterns.map((p) => {
      const title = `${p.shift.name}: the frame each position of a ${p.picture.windowH}×${p.picture.windowW} window reads (stage ${p.stage}, ${p.shiftedHeads} of ${p.heads} heads)`;
      // The SVG's own title is just the name (it must fit the picture's width); the caption says the rest.
      return { title, svg: patternToSvg(p.picture, p.shift.name), grid: patternToText(p.picture, false) };
    }),
  };
}

/** The chosen model of a checked file: by name, or (no name, or a name no longer there) the default. */
function pick(path: string, read: ReadFile, name: string | undefined, names: string[]): ModelConfig {
  return loadModel(path, name !== undefined && names.includes(name) ? name : undefined, read).model;
}

function check(req: Extract<Request, { kind: 'check' }>): Reply {
  const start = performance.now();
  const read = readerWith(req.files);
  const result = checkFiles([req.path], read);
  const diagnostics = sortDiagnostics(result.diagnostics).map(pageDiagnostic);
  const names = result.models.map((m) => m.name);
  const reply: Extract<Reply, { kind: 'checked' }> = { kind: 'checked', id: req.id, diagnostics, models: names, ms: 0 };
  if (!hasErrors(result.diagnostics)) {
    try {
      const model = pick(req.path, read, req.model, names);
      reply.chosen = model.name;
      reply.explained = explained(model);
      if (req.compare !== undefined && names.includes(req.compare)) reply.compared = explained(pick(req.path, read, req.compare, names));
    } catch (e) {
      reply.problem = e instanceof DiagnosticError ? e.diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n') : String(e);
    }
  }
  reply.ms = performance.now() - start;
  return reply;
}

function format(req: Extract<Request, { kind: 'format' }>): Reply {
  const { formatted, diagnostics } = formatSource(req.text, req.path);
  return { kind: 'formatted', id: req.id, text: formatted, diagnostics: diagnostics.map(pageDiagnostic) };
}

let device: PstcDevice | undefined;

/**
 * The adapter to ask for: the browser's default, unless that is a software fallback (SwiftShader)
 * and a real one is offered at the compatibility level (e.g. a Vulkan driver through ANGLE's
 * OpenGL ES), which compiles kernels far faster.
 */
async function adapterOptions(gpu: GPU): Promise<GPURequestAdapterOptions> {
  const compatibility = { featureLevel: 'compatibility' } as GPURequestAdapterOptions;
  const first = await gpu.requestAdapter();
  if (first && !first.info.isFallbackAdapter) return {};
  const other = await gpu.requestAdapter(compatibility);
  return other && !other.info.isFallbackAdapter ? compatibility : first ? {} : compatibility;
}

/** One device for the worker's life, on the browser's WebGPU (navigator.gpu). */
async function openBrowserDevice(): Promise<PstcDevice> {
  if (device) return device;
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) throw new NoAdapterError('this browser has no navigator.gpu');
  device = await openDeviceOn(gpu, {}, await adapterOptions(gpu));
  void device.device.lost.then(() => (device = undefined));
  return device;
}

/** Diagnostics in one line of the status: `PST… message; PST… message`. */
function listed(diagnostics: readonly { code: string; message: string }[]): string {
  return diagnostics.map((d) => `${d.code} ${d.message}`).join('; ');
}

async function run(req: Extract<Request, { kind: 'run' }>): Promise<void> {
  const fail = (problem: string, noWebGpu = false) => post({ kind: 'ran', id: req.id, problem, noWebGpu });
  const read = readerWith(req.files);
  let model: ModelConfig;
  try {
    model = loadModel(req.path, req.model, read).model;
  } catch (e) {
    if (e instanceof DiagnosticError) return fail(`the model has errors: ${listed(e.diagnostics)}`);
    throw e;
  }
  if (!model.head) return fail(`${model.name} has no classification head (head = none): nothing to show as logits`);
  let clip: Float32Array;
  let input: ModelInput;
  const c = model.embed.inChannels;
  if ('seed' in req.clip) {
    input = { ...model.input };
    clip = randomClip(clipShape(model, input), req.clip.seed);
  } else {
    let npy: { shape: number[]; data: Float32Array };
    try {
      npy = readNpy(req.clip.npy);
    } catch (e) {
      return fail(`${req.clip.name}: ${(e as Error).message}`);
    }
    const [n, ch, t, h, w] = npy.shape;
    if (npy.shape.length !== 5 || ch !== c || h !== w) {
      return fail(`${req.clip.name} has shape ${npy.shape.join('×')}; ${model.name} takes a clip N×${c}×T×H×W with H = W`);
    }
    input = { batch: n!, frames: t!, size: h! };
    clip = npy.data;
  }
  const progress = (text: string) => post({ kind: 'progress', id: req.id, text });
  progress('opening the WebGPU device…');
  let dev: PstcDevice;
  try {
    dev = await openBrowserDevice();
  } catch (e) {
    return fail(e instanceof NoAdapterError ? `no WebGPU here: ${e.message.split('. ')[0]}` : String(e), true);
  }
  const weights = initWeights(model, req.weightsSeed);
  progress(`compiling ${model.name}'s kernels on ${dev.describe() || 'the adapter'}…`);
  const t0 = performance.now();
  const compiled = await compileModel(dev, model, input, weights);
  try {
    const t1 = performance.now();
    progress('running the forward pass…');
    const result = await compiled.forward(clip);
    const t2 = performance.now();
    post({
      kind: 'ran',
      id: req.id,
      adapter: dev.describe() || 'WebGPU adapter',
      model: model.name,
      logits: [...result.logits!],
      logitsShape: result.logitsShape,
      inputShape: clipShape(model, input),
      compileMs: t1 - t0,
      forwardMs: t2 - t1,
      kernels: compiled.kernels.map((k) => ({ label: k.label, fuses: k.fuses, wgsl: k.wgsl })),
    });
  } finally {
    compiled.destroy();
  }
}

/** SHA-256 (hex) of a text's UTF-8 bytes, as the CLI hashes the .pst file; undefined without crypto.subtle (not a secure context). */
async function sha256Hex(text: string): Promise<string | undefined> {
  const subtle = (globalThis.crypto as Crypto | undefined)?.subtle;
  if (!subtle) return undefined;
  const digest = new Uint8Array(await subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The chosen model as an ONNX file, as `pstc export FILE --model M --random-weights SEED` writes it:
 * the same seeded weights as the page's run, and metadata that says it came from the playground.
 */
async function exportModel(req: Extract<Request, { kind: 'export' }>): Promise<void> {
  const read = readerWith(req.files);
  const fail = (problem: string, diagnostics?: PageDiagnostic[]) => post({ kind: 'exported', id: req.id, problem, ...(diagnostics ? { diagnostics } : {}) });
  let model: ModelConfig;
  try {
    model = loadModel(req.path, req.model, read).model;
  } catch (e) {
    if (e instanceof DiagnosticError) return fail(`the model has errors: ${listed(e.diagnostics)}`, e.diagnostics.map(pageDiagnostic));
    throw e;
  }
  const text = read(req.path);
  const sha256 = typeof text === 'string' ? await sha256Hex(text) : undefined;
  const input = { ...model.input };
  let exported: ReturnType<typeof exportOnnx>;
  try {
    exported = exportOnnx(model, input, initWeights(model, req.weightsSeed), {
      external: 'never',
      provenance: {
        version: __PSTC_VERSION__,
        origin: 'playground',
        ...(sha256 !== undefined ? { source: { path: req.path.split('/').pop() ?? req.path, sha256 } } : {}),
        ...(req.model !== undefined ? { variant: req.model } : {}),
      },
    });
  } catch (e) {
    if (e instanceof DiagnosticError) return fail(`${model.name} cannot be exported: ${listed(e.diagnostics)}`, e.diagnostics.map(pageDiagnostic));
    throw e;
  }
  // Its own buffer, so that it can be transferred rather than copied.
  const bytes = exported.model;
  const onnx = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
  post(
    { kind: 'exported', id: req.id, model: model.name, onnx, inputShape: exported.inputShape, outputs: exported.outputs.map((o) => ({ name: o.name, shape: o.shape })) },
    [onnx.buffer as ArrayBuffer],
  );
}

self.onmessage = (event: MessageEvent<Request>) => {
  const req = event.data;
  try {
    if (req.kind === 'check') post(check(req));
    else if (req.kind === 'format') post(format(req));
    else if (req.kind === 'export')
      exportModel(req).catch((e: unknown) => post({ kind: 'exported', id: req.id, problem: `the export failed: ${e instanceof Error ? e.message : String(e)}` }));
    else
      run(req).catch((e: unknown) =>
        post({ kind: 'ran', id: req.id, problem: `the run failed: ${e instanceof Error ? e.message : String(e)}` }),
      );
  } catch (e) {
    // A bug, not the user's mistake: say so on the page rather than leave it waiting.
    const problem = `internal error: ${e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e)}`;
    if (req.kind === 'check') post({ kind: 'checked', id: req.id, diagnostics: [], models: [], problem, ms: 0 });
    else if (req.kind === 'format') post({ kind: 'formatted', id: req.id, diagnostics: [{ code: 'internal', severity: 'error', message: problem }] });
    else if (req.kind === 'export') post({ kind: 'exported', id: req.id, problem });
    else post({ kind: 'ran', id: req.id, problem });
  }
};
