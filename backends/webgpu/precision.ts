// The storage precision of a forward pass on the device (`--precision f32|f16`). What f16 means
// here, in full:
//   - every weight and every activation that one kernel writes and another reads lives in device
//     buffers as IEEE half floats (`array<f16>`, WGSL's `enable f16;`, adapter feature
//     'shader-f16'): half the bytes of float32, so half the memory traffic;
//   - arithmetic stays float32: every load converts with f32(…), every sum, softmax and LayerNorm
//     statistic is accumulated in f32, and a store rounds to f16 once;
//   - the clip in and the outputs out (features, logits) stay float32 buffers, so the host reads
//     and writes float32 exactly as with f32, and the last kernel's result is not rounded to f16;
//   - the attention kernels' static tables (bias index, mask) stay as they are (i32, f32).
// Emitters write float32 WGSL against named storage arrays and know nothing of precision:
// `withF16Storage` retypes the arrays bound to f16 tensors and converts at each access, so every
// kernel variant (and any new one) gets f16 storage with no change of its own. The WGSL compiler
// checks the result: an access left unconverted mixes f16 and f32, which WGSL refuses.
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { F32_BYTES, type NodeId } from '../../src/ir/graph.js';
import type { FusedGraph } from '../../src/passes/fuse.js';
import type { TensorBytes } from '../../src/passes/plan-memory.js';
import type { Kernel } from './kernels/common.js';

export type Precision = 'f32' | 'f16';
export const PRECISIONS: readonly Precision[] = ['f32', 'f16'];

/**
 * PST314: f16 storage asked of an adapter without 'shader-f16' (`offered` false), or (a library
 * caller) of a device opened without requesting the feature.
 */
export function f16Unavailable(adapter: string, offered: boolean): DiagnosticError {
  return new DiagnosticError([
    {
      code: 'PST314',
      severity: 'error',
      message: offered
        ? `f16 storage needs the 'shader-f16' feature, and this device (${adapter}) was opened without it`
        : `the WebGPU adapter (${adapter}) does not offer 'shader-f16', which --precision f16 needs`,
      flag: '--precision',
      hint: offered ? "open the device with openDevice({ requireFeatures: ['shader-f16'] })" : 'use --precision f32 (the default) on this adapter',
    },
  ]);
}

/** Bytes of a tensor of `elements` stored as `type` (f16 rounded up to 4: binding sizes must be). */
export function storageBytes(elements: number, type: Precision): number {
  return type === 'f32' ? elements * F32_BYTES : Math.ceil((elements * 2) / 4) * 4;
}

/**
 * How each tensor of a fused forward is stored at `precision`: with f16, every param and every
 * activation but the graph's inputs (the clip) and outputs (features, logits) and LayerNorm row
 * statistics, which stay f32.
 */
export function storageOf(fused: FusedGraph, precision: Precision): (id: NodeId) => Precision {
  if (precision === 'f32') return () => 'f32';
  // LayerNorm row statistics stay f32: a half-float mean would shift every normalised value.
  const stats = fused.kernels.filter((k) => k.kind === 'layernorm_stats').map((k) => k.out);
  const float32 = new Set<NodeId>([...fused.graph.inputs, ...Object.values(fused.outputs), ...stats]);
  return (id) => (float32.has(id) ? 'f32' : 'f16');
}

/** The memory planner's bytes per tensor at `precision` (plan-memory.ts). */
export function tensorBytesAt(fused: FusedGraph, precision: Precision): TensorBytes {
  const storage = storageOf(fused, precision);
  return (id, elements) => storageBytes(elements, storage(id));
}

/** The element types a storage array may have, and their f16 counterparts. */
const F16_OF: Readonly<Record<string, string>> = { f32: 'f16', 'vec2<f32>': 'vec2<f16>', 'vec4<f32>': 'vec4<f16>' };

/**
 * `kernel` with the storage arrays named in `names` stored as f16: each declaration retyped
 * (`array<f32>` → `array<f16>`), every read `x[i]` converted back (`f32(x[i])`), every write
 * `x[i] = v;` rounded (`x[i] = f16(v);`, compound assignments likewise), and `enable f16;` first.
 * Comments are left as they are. The bindings' types say f16 for listings and tests.
 */
export function withF16Storage(kernel: Kernel, names: ReadonlySet<string>): Kernel {
  if (names.size === 0) return kernel;
  const types = new Map<string, string>();
  let wgsl = kernel.wgsl;
  for (const name of names) {
    const decl = new RegExp(`(var<storage,\\s*(?:read|read_write)>\\s*${name}\\s*:\\s*array<)(f32|vec2<f32>|vec4<f32>)>`);
    const m = decl.exec(wgsl);
    if (!m) throw new Error(`internal: ${kernel.label}: no float32 storage array '${name}' to store as f16`);
    types.set(name, m[2]!);
    wgsl = wgsl.replace(decl, `$1${F16_OF[m[2]!]}>`);
  }
  const lines = wgsl.split('\n').map((line) => {
    const comment = line.indexOf('//');
    const code = comment < 0 ? line : line.slice(0, comment);
    const rest = comment < 0 ? '' : line.slice(comment);
    return convertAccesses(code, types, kernel.label) + rest;
  });
  return {
    ...kernel,
    wgsl: `enable f16;\n${lines.join('\n')}`,
    bindings: kernel.bindings.map((b) => (names.has(b.name) ? { ...b, type: 'f16' } : b)),
  };
}

const IDENTIFIER = /[A-Za-z0-9_]/;

/** Index of the bracket closing the one at `open` in `s`. */
function closing(s: string, open: number, label: string): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '[' || s[i] === '(') depth++;
    else if (s[i] === ']' || s[i] === ')') {
      if (--depth === 0) return i;
    }
  }
  throw new Error(`internal: ${label}: unbalanced brackets in \`${s.trim()}\` (an access to f16 storage must fit on one line)`);
}

/** End (index of the `;`) of the statement whose value starts at `from`. */
function statementEnd(s: string, from: number, label: string): number {
  let depth = 0;
  for (let i = from; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === ';' && depth === 0) return i;
  }
  throw new Error(`internal: ${label}: a write to f16 storage must end on its line: \`${s.trim()}\``);
}

/** One line of code with every access to a retyped array converted (reads, writes, index inside index). */
function convertAccesses(code: string, types: ReadonlyMap<string, string>, label: string): string {
  let out = '';
  let i = 0;
  while (i < code.length) {
    const name = accessAt(code, i, types);
    if (name === undefined) {
      out += code[i];
      i++;
      continue;
    }
    const open = code.indexOf('[', i + name.length);
    const close = closing(code, open, label);
    const access = `${name}[${convertAccesses(code.slice(open + 1, close), types, label)}]`;
    const f32Type = types.get(name)!;
    const f16Type = F16_OF[f32Type]!;
    const assignment = /^\s*([-+*/]?)=(?!=)/.exec(code.slice(close + 1));
    if (assignment) {
      const valueStart = close + 1 + assignment[0].length;
      const end = statementEnd(code, valueStart, label);
      const value = convertAccesses(code.slice(valueStart, end), types, label).trim();
      const op = assignment[1];
      out += op ? `${access} = ${f16Type}(${f32Type}(${access}) ${op} (${value}))` : `${access} = ${f16Type}(${value})`;
      i = end;
    } else {
      out += `${f32Type}(${access})`;
      i = close + 1;
    }
  }
  return out;
}

/** The retyped array whose access `name[` starts at `i` (an identifier of its own), if any. */
function accessAt(code: string, i: number, types: ReadonlyMap<string, string>): string | undefined {
  if (i > 0 && (IDENTIFIER.test(code[i - 1]!) || code[i - 1] === '.')) return undefined;
  for (const name of types.keys()) {
    if (!code.startsWith(name, i)) continue;
    const after = code.slice(i + name.length);
    if (/^\s*\[/.test(after)) return name;
  }
  return undefined;
}

/** Float32 values as IEEE half-float bits, rounded to nearest even (overflow to ±Inf). */
export function toFloat16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    let mantissa = x & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf, NaN
      continue;
    }
    const e = exponent - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      // Subnormal half (or zero): shift the mantissa with its implicit bit in, rounding to even.
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mantissa |= 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      const rest = mantissa & ((1 << shift) - 1);
      let h = mantissa >>> shift;
      if (rest > half || (rest === half && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (e << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    // Round to nearest even; a carry into the exponent is right (up to Inf).
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    out[i] = sign | h;
  }
  return out;
}

/** IEEE half-float bits as float32 values (exact). */
export function fromFloat16Bits(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    out[i] = e === 0 ? sign * m * 2 ** -24 : e === 0x1f ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}
