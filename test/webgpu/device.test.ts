import { describe, expect, it } from 'vitest';
import { DeviceLostError, KernelError, openDevice as openAnother } from '../../backends/webgpu/device.js';
import { useDevice } from './util.js';

const device = useDevice();

const DOUBLE_PLUS_ONE = `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i < arrayLength(&x)) {
    y[i] = 2.0 * x[i] + 1.0;
  }
}`;

describe('PstcDevice', () => {
  it('opens and reports the adapter, its limits and features', () => {
    console.log(`adapter: ${device().describe()}`);
    expect(device().describe().length).toBeGreaterThan(0);
    // Requested at the adapter's values, not the defaults.
    expect(device().limits.maxStorageBufferBindingSize).toBe(device().adapter.limits.maxStorageBufferBindingSize);
    expect(device().limits.maxComputeWorkgroupStorageSize).toBe(device().adapter.limits.maxComputeWorkgroupStorageSize);
    expect(device().limits.maxComputeInvocationsPerWorkgroup).toBe(device().adapter.limits.maxComputeInvocationsPerWorkgroup);
    expect(device().features.has('subgroups')).toBe(device().adapter.features.has('subgroups'));
    // shader-f16 only where a command asks for it (--precision f16: requireFeatures).
    expect(device().features.has('shader-f16')).toBe(false);
  });

  it('reads the adapter capabilities from the adapter itself', () => {
    const c = device().capabilities();
    expect(c.shaderF16).toBe(device().adapter.features.has('shader-f16'));
    expect(c.subgroups).toBe(device().adapter.features.has('subgroups'));
    expect(c.subgroupMatrix).toBe(device().adapter.features.has('chromium-experimental-subgroup-matrix' as GPUFeatureName));
    const offered = (device().adapter.info as { subgroupMatrixConfigs?: unknown[] }).subgroupMatrixConfigs ?? [];
    expect(c.subgroupMatrixConfigs).toHaveLength(offered.length);
    for (const m of c.subgroupMatrixConfigs) for (const d of [m.M, m.N, m.K]) expect(Number.isInteger(d) && d > 0).toBe(true);
  });

  it('requests shader-f16 when required, and names the adapter when it lacks a feature', async () => {
    if (device().adapter.features.has('shader-f16')) {
      const f16 = await openAnother({ requireFeatures: ['shader-f16'] });
      expect(f16.features.has('shader-f16')).toBe(true);
      f16.destroy();
    }
    await expect(openAnother({ requireFeatures: ['no-such-feature' as GPUFeatureName] })).rejects.toThrow(/lacks required feature\(s\): no-such-feature/);
  });

  it('runs a trivial kernel and reads the numbers back', async () => {
    const pipeline = await device().createPipeline('double_plus_one', DOUBLE_PLUS_ONE, 'main');
    const input = Float32Array.from({ length: 100 }, (_, i) => i - 50.5);
    const x = device().createBuffer(input, 'x');
    const y = device().createEmptyBuffer(100, 'y');
    await device().run('double_plus_one', pipeline, [x, y], [2, 1, 1]);
    const out = await device().readFloat32(y);
    expect(Array.from(out)).toEqual(Array.from(input, (v) => 2 * v + 1));
    x.destroy();
    y.destroy();
  });

  it('round-trips buffers written through the queue', async () => {
    const buffer = device().createEmptyBuffer(4, 'b');
    device().writeBuffer(buffer, new Float32Array([1.5, -2, 3.25, 4]));
    expect(Array.from(await device().readFloat32(buffer))).toEqual([1.5, -2, 3.25, 4]);
    buffer.destroy();
  });

  it('reports a WGSL syntax error as a KernelError naming the kernel, with the compiler message', async () => {
    const broken = `@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = 1.0 +;\n}`;
    const error = await device().createPipeline('my_broken_kernel', broken, 'main').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KernelError);
    const e = error as KernelError;
    expect(e.message).toContain('my_broken_kernel');
    expect(e.compilerMessages.length).toBeGreaterThan(0);
    const first = e.compilerMessages.find((m) => m.type === 'error')!;
    expect(first.line).toBe(3);
    expect(e.message).toContain(first.message);
    expect(e.message).toContain(`3:${first.column}`);
  });

  it('turns a validation error at dispatch into a KernelError naming the kernel', async () => {
    const pipeline = await device().createPipeline('double_plus_one', DOUBLE_PLUS_ONE, 'main');
    const x = device().createBuffer(new Float32Array(4), 'x');
    // One binding missing: the bind group does not match the layout.
    const error = await device().run('bad_binding', pipeline, [x], [1, 1, 1]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KernelError);
    expect((error as Error).message).toContain('bad_binding');
    expect((error as Error).message).toMatch(/validation error/);
    x.destroy();
  });

  it('an unknown entry point is a KernelError naming the kernel', async () => {
    const error = await device().createPipeline('no_such_entry', DOUBLE_PLUS_ONE, 'nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KernelError);
    expect((error as Error).message).toContain('no_such_entry');
  });

  it('after destroy(), every call fails with DeviceLostError', async () => {
    const other = await openAnother();
    other.destroy();
    expect(() => other.createEmptyBuffer(4)).toThrow(DeviceLostError);
    await expect(other.createPipeline('after_destroy', DOUBLE_PLUS_ONE, 'main')).rejects.toThrow(/destroyed/);
  });
});
