// The verifier after plan-memory checks every planned buffer against the device limits the
// program was planned for (Program.bindingLimits): a plan the device would refuse fails in the
// compiler, naming the tensor and the limit, not in the driver. Without limits nothing changes.
import { describe, expect, it } from 'vitest';
import { runPipeline, startProgram } from '../../src/passes/pipeline.js';
import { limitProblems } from '../../src/passes/verify.js';
import { tinyModel } from './helpers.js';

const model = tinyModel('pst-tiny');
const input = { batch: 2, frames: model.input.frames, size: model.input.size };

describe('verifier: binding limits', () => {
  it('a program planned for a binding limit its tensors exceed fails after plan-memory, naming the tensor', () => {
    const program = { ...startProgram(model, input), bindingLimits: { maxStorageBufferBindingSize: 64 * 1024, maxBufferSize: 2 ** 30 } };
    expect(() => runPipeline(program)).toThrow(/after pass 'plan-memory':\n {2}- %\d+ \w+ '[^']+' \[[\d, ]+\] takes \d+ bytes \([\d.]+ MiB\), over the maxStorageBufferBindingSize of 65536 bytes/);
  });

  it('buffers over maxBufferSize and parameters over a binding are named too', () => {
    const done = runPipeline(startProgram(model, input));
    const largestBuffer = Math.max(...done.memory!.buffers);
    const problems = limitProblems(done.fused!, done.memory!, { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: largestBuffer - 4 });
    expect(problems.some((p) => /^buffer \d+ takes \d+ bytes .* over the maxBufferSize/.test(p))).toBe(true);
    const params = limitProblems(done.fused!, done.memory!, { maxStorageBufferBindingSize: 1024, maxBufferSize: 2 ** 30 });
    expect(params.some((p) => /param '.*weight'/.test(p))).toBe(true);
  });

  it('within the limits, or with none, the same program passes', () => {
    expect(() => runPipeline({ ...startProgram(model, input), bindingLimits: { maxStorageBufferBindingSize: 134217728, maxBufferSize: 268435456 } })).not.toThrow();
    const done = runPipeline(startProgram(model, input));
    expect(limitProblems(done.fused!, done.memory!, undefined)).toEqual([]);
  });
});
