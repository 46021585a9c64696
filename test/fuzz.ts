// How long the fuzzers run, read in one place. CI runs each property its own small number of
// times from a fixed seed (test/setup.ts); PSTC_FUZZ_RUNS=<n> runs every fuzz property n times
// instead, for a long run (e.g. `PSTC_FUZZ_RUNS=20000 nice -n 10 npx vitest run test/lang/fuzz-*.test.ts
// test/weights/fuzz-*.test.ts`), and lifts the per-test timeout to match.
const wanted = process.env.PSTC_FUZZ_RUNS;
const override = wanted === undefined || wanted === '' ? undefined : Number(wanted);
if (override !== undefined && !(Number.isSafeInteger(override) && override > 0)) {
  throw new Error(`PSTC_FUZZ_RUNS must be a positive integer, not \`${wanted}\``);
}

/** Runs for one fuzz property: `ciRuns` normally, PSTC_FUZZ_RUNS when set. */
export function fuzzRuns(ciRuns: number): number {
  return override ?? ciRuns;
}

/** A vitest timeout for a fuzz test: vitest's default normally, a day during a long run. */
export const fuzzTimeout: number | undefined = override === undefined ? undefined : 24 * 3600 * 1000;
