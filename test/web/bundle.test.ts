// One compiler, two hosts: the playground's bundle (the page and the compiler worker: the
// language, IR, passes, WGSL emitters and WebGPU runtime) is built for the browser, and its
// esbuild metafile shows no Node built-in anywhere in it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
// @ts-expect-error: a plain .mjs build script, no types
import { buildWeb, nodeImports } from '../../web/build.mjs';

const out = mkdtempSync(path.join(tmpdir(), 'pstc-web-bundle-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

test('the browser bundle builds for platform browser and imports no Node built-in', async () => {
  const metafile = await buildWeb({ outdir: out, minify: false, quiet: true });
  expect(nodeImports(metafile)).toEqual([]);
  const inputs = Object.keys(metafile.inputs);
  // The compiler really is in it (so the check above covers it), and Dawn and the disk reader are not.
  for (const module of ['src/lang/elaborate.ts', 'src/passes/lower.ts', 'src/passes/fuse.ts', 'backends/webgpu/runtime.ts', 'backends/webgpu/gpu-device.ts', 'src/explore/pattern-picture.ts', 'backends/onnx/export.ts', 'backends/onnx/write.ts']) {
    expect(inputs).toContain(module);
  }
  for (const nodeOnly of ['backends/webgpu/device.ts', 'src/lang/read-disk.ts', 'src/explore/pattern-png.ts', 'src/weights/atomic.ts', 'backends/onnx/session.ts']) {
    expect(inputs).not.toContain(nodeOnly);
  }
  expect(inputs.some((i) => i.includes('node_modules/webgpu/'))).toBe(false);
  expect(inputs.some((i) => i.includes('node_modules/onnxruntime-'))).toBe(false); // the playground exports ONNX; it runs none
});

test('the check itself catches a Node import', () => {
  const meta = { inputs: { 'a.ts': { imports: [{ path: 'node:fs' }, { path: 'path' }, { path: 'chevrotain' }] } } };
  expect(nodeImports(meta)).toEqual(['a.ts imports node:fs', 'a.ts imports path']);
});
