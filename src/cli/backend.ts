// `--backend webgpu|onnxruntime` for the forward commands (run, bench, eval): pstc's own WebGPU
// kernels, or the model exported to ONNX (backends/onnx/) and run by ONNX Runtime's CPU provider
// with 2 intra-op threads. Without --backend the choice is made here (chooseBackend): ONNX Runtime
// when the only WebGPU adapter is a software one (lavapipe/llvmpipe, SwiftShader), where it is
// several times faster, saying so in one line; WebGPU otherwise, and whenever a flag or setting
// only WebGPU has is given. The export's provenance (pstc's version, the source's SHA-256) is made
// here once for `export` and the backends alike. Training, `bench --profile`, `--precision f16`
// and the kernel tests are WebGPU's.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { ExportProvenance } from '../../backends/onnx/metadata.js';
import { probeAdapter, type AdapterProbe } from '../../backends/webgpu/device.js';
import { UsageError } from './errors.js';
import { PSTC_VERSION } from './version.js';

export const BACKENDS = ['webgpu', 'onnxruntime'] as const;
export type Backend = (typeof BACKENDS)[number];

/** ONNX Runtime's intra-op threads for `--backend onnxruntime`. */
export const ONNX_THREADS = 2;

export function backendOf(flag: string): (value: string) => Backend {
  return (value) => {
    if ((BACKENDS as readonly string[]).includes(value)) return value as Backend;
    throw new UsageError(`${flag}: '${value}' is not a backend; use ${BACKENDS.join(' or ')}`);
  };
}

export const BACKEND_HELP =
  "webgpu (pstc's kernels on the WebGPU adapter) or onnxruntime (the model exported to ONNX, run by ONNX Runtime on the CPU, 2 threads); default: onnxruntime when the only WebGPU adapter is a software one (lavapipe, SwiftShader) and no WebGPU-only flag is given, else webgpu (PSTC_BACKEND sets the default)";

/** Adds `--backend webgpu|onnxruntime` to a forward command; chooseBackend picks when it is not given. */
export function withBackendOption(command: Command): Command {
  return command.option('--backend <name>', BACKEND_HELP, backendOf('--backend'));
}

/** Settings that tune pstc's kernels: set, they ask for the WebGPU backend. */
const KERNEL_SETTINGS = ['PSTC_KERNELS', 'PSTC_LAYERNORM_PROLOGUE'];

/** The short name of a software adapter (llvmpipe, lavapipe, SwiftShader), else its whole description. */
function softwareName(probe: AdapterProbe): string {
  const { vendor, architecture, device, description } = probe.info;
  const text = `${vendor} ${architecture} ${device} ${description}`;
  return /llvmpipe|lavapipe|swiftshader|softpipe/i.exec(text)?.[0] ?? text.replace(/\s+/g, ' ').trim();
}

/**
 * The backend when --backend is not given, and the line that says why (undefined: nothing to say).
 * `webgpuOnly` names a flag that only WebGPU has (e.g. '--profile'): then WebGPU, without a word.
 * `env` is PSTC_BACKEND; `probe` the default adapter (undefined: none, or not started).
 */
export function defaultBackend(probe: AdapterProbe | undefined, options: { webgpuOnly?: string; env?: string } = {}): { backend: Backend; note?: string } {
  if (options.webgpuOnly !== undefined) return { backend: 'webgpu' };
  if (options.env !== undefined && options.env !== '') return { backend: backendOf('PSTC_BACKEND')(options.env) };
  if (probe?.software) {
    return { backend: 'onnxruntime', note: `backend: onnxruntime (the only WebGPU adapter is a software one, ${softwareName(probe)}; --backend webgpu to use it)` };
  }
  return { backend: 'webgpu' };
}

/**
 * The backend a forward command runs on: --backend when given; otherwise defaultBackend, the
 * adapter asked once per process (no device opened) and only when the answer matters.
 */
export async function chooseBackend(given: Backend | undefined, say: (line: string) => void, webgpuOnly?: string): Promise<Backend> {
  if (given !== undefined) return given;
  const env = process.env.PSTC_BACKEND;
  const kernelSetting = KERNEL_SETTINGS.find((name) => process.env[name]);
  const only = webgpuOnly ?? (kernelSetting !== undefined ? kernelSetting : undefined);
  const needsProbe = only === undefined && (env === undefined || env === '');
  const { backend, note } = defaultBackend(needsProbe ? await probeAdapter() : undefined, { ...(only !== undefined ? { webgpuOnly: only } : {}), ...(env !== undefined ? { env } : {}) });
  if (note) say(note);
  return backend;
}

/** `--precision f16` is WebGPU storage: refuse it with ONNX Runtime rather than ignore it. */
export function checkBackendPrecision(backend: Backend, precision: string, flag = '--precision'): void {
  if (backend === 'onnxruntime' && precision !== 'f32') {
    throw new UsageError(`${flag} ${precision}: half-float storage is the WebGPU backend's; ONNX Runtime runs the export in f32 (drop ${flag} or use --backend webgpu)`);
  }
}

/** What an exported model records about where it came from. */
export function exportProvenance(file: string, flags: { model?: string; set?: string[] } = {}): ExportProvenance {
  return {
    version: PSTC_VERSION,
    source: { path: basename(file), sha256: createHash('sha256').update(readFileSync(file)).digest('hex') },
    ...(flags.model !== undefined ? { variant: flags.model } : {}),
    ...(flags.set?.length ? { settings: flags.set } : {}),
  };
}
