// "compile s" in an ablation: building the pipelines plus the first pass's or step's excess over a
// warm one (a driver such as lavapipe compiles a shader at its first dispatch, out of sight of the
// build). The arithmetic here; the trainer's first-step time in test/train/train.test.ts.
import { describe, expect, it } from 'vitest';
import { compileCost } from '../../src/explore/ablate/measure.js';

describe('compileCost', () => {
  it('adds the first use\'s excess over a warm pass to the build', () => {
    expect(compileCost(2.5, 57.5, 0.5)).toBeCloseTo(59.5, 12);
  });
  it('adds nothing when the first use was no slower than a warm one (shaders already compiled)', () => {
    expect(compileCost(2.5, 0.4, 0.5)).toBe(2.5);
  });
  it('is the build alone where no first use or no warm pass was timed', () => {
    expect(compileCost(3, undefined, 0.5)).toBe(3);
    expect(compileCost(3, 9, undefined)).toBe(3);
  });
});
