// Property tests (fast-check) run from a fixed seed by default, so CI is repeatable and a failure
// reproduces; PSTC_FUZZ_SEED=<n> picks another seed and PSTC_FUZZ_SEED=random a new one per run
// (printed), to explore further.
import fc from 'fast-check';

const wanted = process.env.PSTC_FUZZ_SEED;
const seed = wanted === 'random' ? Math.floor(Math.random() * 2 ** 31) : wanted ? Number(wanted) : 20261127;
if (wanted === 'random') console.log(`fast-check seed ${seed} (PSTC_FUZZ_SEED=${seed} reproduces)`);
fc.configureGlobal({ seed });

// The seeds a test drew with freshSeed() (test/webgpu/util.ts), printed when it fails, so that
// PSTC_SEED=<seed> reproduces the failure whichever way the seeds were drawn.
import { beforeEach } from 'vitest';
beforeEach((ctx) => {
  const g = globalThis as { __pstcSeeds?: number[] };
  g.__pstcSeeds = [];
  ctx.onTestFailed(() => {
    if (g.__pstcSeeds?.length) console.error(`${ctx.task.name}: seeds drawn ${g.__pstcSeeds.join(', ')} (PSTC_SEED=<seed> reproduces one)`);
  });
});
