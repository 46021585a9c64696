// The automatic micro-batch of a training step: no kernel may bind more than the device allows in
// one storage binding (maxStorageBufferBindingSize) or one buffer (maxBufferSize), so a batch
// whose activations would is run as K micro-batches of m clips with exact gradient accumulation
// (the step's arithmetic is then that of `--accumulate K`: each micro-batch's mean-loss gradient
// summed, the sum scaled by 1/K — the mean over the whole batch, since the micro-batches are equal).
//
// Every binding is measured on a probe: the step planned for one clip. A binding is either a
// parameter, a parameter's gradient (their size does not depend on the batch), or something that
// holds the clips (activations, their gradients, the clip, the gather and mask tables), whose
// bytes at m clips are at most m × its bytes at one clip: every tensor of the training graph has
// the batch as a factor (or is a constant plus such a term). So m = ⌊limit / the largest per-clip
// binding⌋ is the largest micro-batch that fits, exactly when those bindings are proportional to
// the batch (the activations are), and never one that does not fit. m is then lowered to a
// divisor of the batch, so that the micro-batches are equal and the mean is exact. Nothing smaller
// than a clip is split: one clip too large, or a weight too large, is PST307 before anything runs.
import type { GraphProgram } from '../../backends/webgpu/graph-executor.js';
import { EnvironmentSettingError } from '../../backends/webgpu/gpu-device.js';
import { DEFAULT_LIMITS } from '../../backends/webgpu/plan.js';
import { DiagnosticError } from '../lang/diagnostics.js';
import { F32_BYTES, size } from '../ir/graph.js';
import type { BindingLimits } from '../passes/pipeline.js';

/** One storage binding of one kernel, measured on a plan. */
export interface Binding {
  kernel: string;
  /** The tensor, parameter or table, for messages. */
  what: string;
  bytes: number;
  /** Whether it holds the batch's clips (false: a parameter or a parameter's gradient). */
  perClip: boolean;
}

/** The binding limit a step is planned for, and what it is, for messages. */
export interface BindingLimit {
  /** min(maxStorageBufferBindingSize, maxBufferSize, a forced limit). */
  bytes: number;
  /** e.g. "the adapter's maxStorageBufferBindingSize", "PSTC_MAX_BINDING=8MiB". */
  source: string;
  /** The device limits with the forced one applied: what the verifier checks the plan against. */
  limits: BindingLimits;
}

export interface MicroBatchChoice {
  /** Clips per micro-batch the device runs. */
  microBatch: number;
  /** Micro-batches per requested batch (batch / microBatch). */
  split: number;
  /** Why the batch is split (absent when it is not). */
  reason?: string;
}

/** Bytes for messages: KiB below a MiB, MiB below a GiB, else GiB. */
export function mib(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}

/** Every storage binding of every kernel of a planned graph (the step key and uniforms aside). */
export function bindingsOf(p: GraphProgram): Binding[] {
  const grads = new Set(p.fused.grads.map((g) => g.node));
  const out: Binding[] = [];
  for (const s of p.steps) {
    for (const b of Object.values(s.binds)) {
      if (b.kind === 'step_key') continue;
      if (b.kind === 'table') {
        out.push({ kernel: s.kernel.label, what: `table '${b.description}'`, bytes: b.data.byteLength, perClip: true });
        continue;
      }
      const n = p.graph.nodes[b.node]!;
      const what = `${b.kind === 'param' ? 'parameter' : n.op.kind} '${n.label}' [${n.shape.join(', ')}]`;
      const bytes = b.kind === 'param' ? size(n.shape) * F32_BYTES : p.memory.bytes.get(b.node)!;
      out.push({ kernel: s.kernel.label, what, bytes, perClip: b.kind === 'tensor' && !grads.has(b.node) });
    }
  }
  return out;
}

export const largestOf = (bs: readonly Binding[]): Binding | undefined => bs.reduce<Binding | undefined>((best, b) => (!best || b.bytes > best.bytes ? b : best), undefined);

/**
 * The micro-batch for `batch` clips from a probe planned for one clip, or PST307 when not even
 * one clip (or a weight) fits one binding.
 */
export function chooseMicroBatch(probe: GraphProgram, batch: number, limit: BindingLimit): MicroBatchChoice {
  if (probe.graph.inputShape[0] !== 1) throw new Error(`internal: the micro-batch probe holds ${probe.graph.inputShape[0]} clips, not 1`);
  const bindings = bindingsOf(probe);
  const fixed = largestOf(bindings.filter((b) => !b.perClip));
  if (fixed && fixed.bytes > limit.bytes) {
    throw new DiagnosticError([
      {
        code: 'PST307',
        severity: 'error',
        message: `kernel ${fixed.kernel} binds ${fixed.what} of ${mib(fixed.bytes)}, more than one storage binding allows (${mib(limit.bytes)}, ${limit.source}); a weight or its gradient is not split across micro-batches`,
        hint: 'use a device with a larger maxStorageBufferBindingSize, or a model with fewer channels or classes',
      },
    ]);
  }
  const clip = largestOf(bindings.filter((b) => b.perClip));
  if (!clip) return { microBatch: batch, split: 1 };
  if (clip.bytes > limit.bytes) {
    throw new DiagnosticError([
      {
        code: 'PST307',
        severity: 'error',
        message:
          `training: kernel ${clip.kernel} binds ${clip.what} of ${mib(clip.bytes)} for one clip, more than one storage binding allows ` +
          `(${mib(limit.bytes)}, ${limit.source}); a micro-batch is at least one clip`,
        flag: '--size',
        hint: 'use a smaller --size or --frames, or a device with a larger maxStorageBufferBindingSize',
      },
    ]);
  }
  const most = Math.floor(limit.bytes / clip.bytes);
  if (most >= batch) return { microBatch: batch, split: 1 };
  let microBatch = most;
  while (batch % microBatch !== 0) microBatch--;
  const reason =
    `at ${batch} clips kernel ${clip.kernel} would bind ${mib(clip.bytes * batch)} of ${clip.what.replace(/ \[.*\]$/, '')} ` +
    `(${mib(clip.bytes)} per clip), over the ${mib(limit.bytes)} storage-binding limit (${limit.source}): at most ${most} clip${most === 1 ? '' : 's'} per micro-batch` +
    (microBatch < most ? `, and ${microBatch} is the largest that divides ${batch}` : '');
  return { microBatch, split: batch / microBatch, reason };
}

/** WebGPU's guaranteed binding limits: a plan made for these fits every adapter. */
export const GUARANTEED_BINDING_LIMITS: BindingLimits = {
  maxStorageBufferBindingSize: DEFAULT_LIMITS.maxStorageBufferBindingSize,
  maxBufferSize: DEFAULT_LIMITS.maxBufferSize,
};

/**
 * The limit a step is planned for: the device's (or WebGPU's guaranteed ones), tightened by a
 * forced limit — `forced` (StepSetup.maxBinding, tests), else PSTC_MAX_BINDING (e.g. 8MiB).
 */
export function bindingLimit(device: BindingLimits | undefined, forced?: number, env: string | undefined = globalThis.process?.env?.PSTC_MAX_BINDING): BindingLimit {
  const base = device ?? GUARANTEED_BINDING_LIMITS;
  const baseBytes = Math.min(base.maxStorageBufferBindingSize, base.maxBufferSize);
  const from = device ? "the adapter's limits" : "WebGPU's guaranteed limits";
  const tighter = forced ?? (env !== undefined && env !== '' ? envBytes(env) : undefined);
  if (tighter === undefined || tighter >= baseBytes) {
    const which = base.maxStorageBufferBindingSize <= base.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
    return { bytes: baseBytes, source: `${which} of ${from}`, limits: { ...base } };
  }
  const source = forced !== undefined ? `a forced limit of ${mib(forced)}` : `PSTC_MAX_BINDING=${env}`;
  return { bytes: tighter, source, limits: { maxStorageBufferBindingSize: tighter, maxBufferSize: base.maxBufferSize } };
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** A size such as 8MiB, 512KiB, 16GiB or 1048576 (bytes); undefined when it is not one (PSTC_MAX_BINDING, --memory-budget). */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

function envBytes(text: string): number {
  const n = parseByteSize(text);
  if (n === undefined || n < 4) throw new EnvironmentSettingError(`PSTC_MAX_BINDING=${text} is not a size; use e.g. 8MiB or ${DEFAULT_LIMITS.maxStorageBufferBindingSize} (bytes), or unset it`);
  return n;
}
