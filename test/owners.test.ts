// One owner per fact (shared/spec/architecture.md): a number that several layers need is written
// once, in the lowest layer that all of them can import, and read from there. This fails when a
// second copy of one of them reappears in the sources (comments aside).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? sources(p) : /\.(ts|mjs)$/.test(p) ? [p] : [];
  });
}

/** Each source file's code lines (comment lines dropped), by path from the root. */
const code = ['grammar', 'src', 'backends', 'web/src'].flatMap((d) => sources(join(root, d))).map((file) => ({
  path: relative(root, file),
  lines: readFileSync(file, 'utf8')
    .split('\n')
    .map((text, i) => ({ text, line: i + 1 }))
    .filter(({ text }) => !/^\s*(\/\/|\/\*|\*)/.test(text)),
}));

/** `path:line` of every code line matching `pattern` outside the owner. */
function copies(pattern: RegExp, owner: string): string[] {
  return code.filter((f) => f.path !== owner).flatMap((f) => f.lines.filter(({ text }) => pattern.test(text)).map(({ line }) => `${f.path}:${line}`));
}

describe('one owner per number', () => {
  it("WebGPU's default limits are written only in backends/webgpu/kernels/common.ts (DEFAULT_LIMITS)", () => {
    // The two byte limits, and any limit given a number by name (a second table of them).
    expect(copies(/\b(134217728|268435456)\b|\bmax(ComputeWorkgroup\w*|ComputeInvocationsPerWorkgroup|StorageBufferBindingSize|StorageBuffersPerShaderStage|BufferSize):\s*\d/, 'backends/webgpu/kernels/common.ts')).toEqual([]);
  });

  it('the LayerNorm epsilon is written only in src/lang/facts.ts (LAYERNORM_EPS)', () => {
    expect(copies(/\b1e-5\b|\b0\.00001\b/, 'src/lang/facts.ts')).toEqual([]);
  });

  it('bytes per float are named only in src/ir/graph.ts (F32_BYTES)', () => {
    expect(copies(/\b(const|let)\s+\w*(F32|FLOAT32|FLOAT|BYTES_PER)\w*\s*(:\s*number\s*)?=\s*4\s*;/i, 'src/ir/graph.ts')).toEqual([]);
  });

  it('the clip layout N×C×T×H×W of a model is built only in src/lang/facts.ts (clipShape)', () => {
    expect(copies(/\[\s*[\w.]*batch,\s*[\w.]*inChannels,\s*[\w.]*frames,/, 'src/lang/facts.ts')).toEqual([]);
  });

  it("pstc's version is written only in package.json (src/cli/version.ts reads it)", () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(copies(new RegExp(`['"\`]${version.replace(/\./g, '\\.')}['"\`]`), 'package.json')).toEqual([]);
  });
});

