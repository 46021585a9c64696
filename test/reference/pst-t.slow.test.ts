// PST-T at full size (1×3×32×224²) through the float64 interpreter: minutes, so opt-in with
// PSTC_SLOW=1. Checks that the whole network runs at the paper's size and gives finite numbers.
import { describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { lowerModel } from '../../src/passes/lower.js';
import { initWeights } from '../../src/weights/index.js';
import { pstT, random } from './fixtures.js';

describe.skipIf(!process.env.PSTC_SLOW)('PST-T at 1×3×32×224² (PSTC_SLOW=1)', () => {
  it('runs and gives finite features and logits of the right size', () => {
    const model = pstT();
    const g = lowerModel(model, { batch: 1, frames: 32, size: 224 });
    const next = random(3);
    const clip = Float64Array.from({ length: 3 * 32 * 224 * 224 }, () => next());
    const r = interpret(g, { clip }, initWeights(model, 0));
    expect(r.features.length).toBe(768 * 16 * 7 * 7);
    expect(r.logits!.length).toBe(400);
    expect(r.features.every(Number.isFinite)).toBe(true);
    expect(r.logits!.every(Number.isFinite)).toBe(true);
  }, 1_800_000);
});
