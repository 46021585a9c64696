// `--backend webgpu|onnxruntime` for the forward commands (run, bench, eval): pstc's own WebGPU
// kernels (the default), or the model exported to ONNX (backends/onnx/) and run by ONNX Runtime's
// CPU provider with 2 intra-op threads. The export's provenance (pstc's version, the source's
// SHA-256) is made here once for `export` and the backends alike. Training, `bench --profile`,
// `--precision f16` and the kernel tests are WebGPU's.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { ExportProvenance } from '../../backends/onnx/metadata.js';
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

export const BACKEND_HELP = "webgpu (default: pstc's kernels on the WebGPU adapter) or onnxruntime (the model exported to ONNX, run by ONNX Runtime on the CPU, 2 threads)";

/** Adds `--backend webgpu|onnxruntime` (default webgpu) to a forward command. */
export function withBackendOption(command: Command): Command {
  return command.option('--backend <name>', BACKEND_HELP, backendOf('--backend'), 'webgpu');
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
