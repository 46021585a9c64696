// The front end's pass pipeline, declared as data: a model and an input size become a graph
// (lower), whose chains of views become single reads (fold), whose row-only views move in front of
// the linear layers they follow (commute); the graph becomes kernels (fuse) and the kernels'
// tensors get buffers (plan-memory). Every consumer — the WebGPU planner and runtime, `pstc
// compile`, `explain`, the library and the tests — runs this one list, so what is printed is
// what runs. After each pass the verifier (verify.ts) checks the program's invariants, so a pass
// that breaks one is named at once rather than found as a wrong number three passes later.
//
// Adding a pass is one line in PASSES. Training: a program started with `training` options is
// lowered in train mode (dropouts, labels, loss) and `autodiff` appends the backward graph; for
// inference `autodiff` leaves the graph as it is. `recompute` (training with `recompute: true`)
// redirects the backward's reads of each block's intermediates to copies computed again from the
// block's input (recompute.ts); otherwise it leaves the graph as it is.
// `runPipeline(…, { until: 'fold' })` stops after a pass; a program remembers the passes that made
// it, so a later call continues where it stopped. A bare graph (no model: the kernel tests' small
// ones) runs BARE_GRAPH_PASSES, entries of the same list (runBareGraph).
import type { ModelConfig } from '../lang/model.js';
import { foldViews } from './fold.js';
import type { Graph } from '../ir/graph.js';
import { lowerModel, type InputSize } from './lower.js';
import type { TrainOptions } from './lower-train.js';
import { differentiate } from './autodiff.js';
import { recomputeBlocks } from './recompute.js';
import { commuteRowViews } from './commute.js';
import { fuse, type FusedGraph, type FusionOptions } from './fuse.js';
import { planMemory, type MemoryPlan } from './plan-memory.js';
import { verifyProgram } from './verify.js';

/** A training program's options: lowering's, and the passes' after it. */
export interface TrainingOptions extends TrainOptions {
  /** Activation recomputation per block (the `recompute` pass): less memory, more compute. */
  recompute?: boolean;
}

/**
 * The largest storage binding and the largest buffer a device accepts (WebGPU's
 * maxStorageBufferBindingSize and maxBufferSize), in bytes.
 */
export interface BindingLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/**
 * What the passes after `lower` read and write: the work so far, with or without the model it
 * came from (a model's program, or a bare graph: runBareGraph).
 */
export interface Stages {
  /** Present for a training program: lowered in train mode, differentiated by `autodiff`. */
  readonly training?: TrainingOptions;
  /** Choices of `fuse` a backend makes for its adapter (default: all fusions, fuse.ts). */
  readonly fusion?: FusionOptions;
  /** The device limits the program is planned for: the verifier checks every planned buffer against them. */
  readonly bindingLimits?: BindingLimits;
  /** The names of the passes that made this program, in order. */
  readonly passes: readonly string[];
  /** From `lower` on: the graph IR. */
  readonly graph?: Graph;
  /** From `fuse` on: the kernels computing `graph` (fused.graph === graph). */
  readonly fused?: FusedGraph;
  /** From `plan-memory` on: a buffer for every tensor the kernels write. */
  readonly memory?: MemoryPlan;
}

/** What the passes have made of a model so far; each pass fills in or rewrites one part. */
export interface Program extends Stages {
  readonly model: ModelConfig;
  readonly input: InputSize;
}

export interface Pass {
  readonly name: string;
  /** One line for `pstc compile --help` and the docs. */
  readonly does: string;
  run(program: Program): Program;
  /** Invariants this pass establishes beyond the program's own (checked after it, and after every later graph pass). */
  readonly folded?: boolean;
}

/** A pass after `lower`: it reads and writes only the stages, so it runs on a bare graph too. */
export interface StagePass extends Pass {
  run<P extends Stages>(program: P): P;
}

/** The part of a program a pass needs; missing means the list is out of order (a bug). */
export function need<K extends 'graph' | 'fused' | 'memory'>(program: Stages, part: K, pass: string): NonNullable<Stages[K]> {
  const value = program[part];
  if (value === undefined) throw new Error(`internal: pass '${pass}' needs the program's ${part}, which no earlier pass made`);
  return value as NonNullable<Stages[K]>;
}

/** A pass that rewrites the graph; what was derived from the old graph (kernels, memory) is dropped. */
export function graphPass<N extends string>(name: N, does: string, rewrite: (graph: Graph) => Graph, options: { folded?: boolean } = {}): StagePass & { name: N } {
  return {
    name,
    does,
    ...options,
    run: (p) => withGraph(p, rewrite(need(p, 'graph', name))),
  };
}

/** What a pass keeps of a program when it replaces the graph: all but the kernels and memory made from the old one. */
function withGraph<P extends Stages>(p: P, graph: Graph): P {
  const { fused: _fused, memory: _memory, ...kept } = p;
  // `kept` is P less two optional parts, so still a P.
  return { ...kept, graph } as P;
}

export const PASSES = [
  {
    name: 'lower',
    does: 'the model at this input size → graph IR, one view per data movement (train mode: dropouts, labels, loss)',
    run: (p: Program): Program => withGraph(p, lowerModel(p.model, p.input, p.training ? { mode: 'train', ...p.training } : {})),
  },
  graphPass('autodiff', 'training graphs: append the reverse-mode backward graph and a gradient per param', (g) => (g.outputs.loss === undefined ? g : differentiate(g).graph)),
  {
    name: 'recompute',
    does: 'training with --recompute: backward reads of a block\'s forward intermediates go to copies recomputed from the block input',
    run: <P extends Stages>(p: P): P => (p.training?.recompute ? withGraph(p, recomputeBlocks(need(p, 'graph', 'recompute')).graph) : p),
  },
  graphPass('fold', 'compose each chain of views into one index map, so no view reads a view', foldViews, { folded: true }),
  graphPass('commute', 'move row-only views in front of the linear layer they follow (residual adds read one layout)', commuteRowViews, { folded: true }),
  {
    name: 'fuse',
    does: 'the graph → kernels in graph order, views folded into their reads, epilogues and LayerNorm prologues fused',
    run: <P extends Stages>(p: P): P => ({ ...p, fused: fuse(need(p, 'graph', 'fuse'), p.fusion), memory: undefined }),
  },
  {
    name: 'plan-memory',
    does: 'a buffer for every tensor a kernel writes, shared by liveness',
    run: <P extends Stages>(p: P): P => ({ ...p, memory: planMemory(need(p, 'fused', 'plan-memory')) }),
  },
] as const satisfies readonly Pass[];

export type PassName = (typeof PASSES)[number]['name'];
export const PASS_NAMES: readonly PassName[] = PASSES.map((p) => p.name);

export function isPassName(name: string): name is PassName {
  return (PASS_NAMES as readonly string[]).includes(name);
}

/** A program no pass has touched yet. */
export function startProgram(model: ModelConfig, input: InputSize, training?: TrainingOptions, fusion?: FusionOptions): Program {
  return { model, input, passes: [], ...(training ? { training } : {}), ...(fusion ? { fusion } : {}) };
}

export interface RunOptions {
  /** compileProgram: lower for training with these options (runPipeline takes them from the program). */
  training?: TrainingOptions;
  /** compileProgram: the fusion choices (default fuse.ts's). */
  fusion?: FusionOptions;
  /** Stop after this pass (default: run to the end). */
  until?: PassName;
  /** The pass list (default PASSES); tests give a shorter or longer one. */
  passes?: readonly Pass[];
}

/**
 * Run the passes `program` has not been through yet, in order, verifying after each, and stop
 * after `until`. Asking to stop at a pass the program is already past is a bug in the caller.
 */
export function runPipeline(program: Program, options: RunOptions = {}): Program {
  const passes: readonly Pass[] = options.passes ?? PASSES;
  const done = program.passes.length;
  passes.slice(0, done).forEach((pass, i) => {
    if (program.passes[i] !== pass.name) throw new Error(`internal: program made by [${program.passes.join(', ')}] is not a prefix of the pipeline`);
  });
  const stop = options.until === undefined ? passes.length : passes.findIndex((p) => p.name === options.until) + 1;
  if (stop === 0) throw new Error(`internal: no pass '${options.until}' in [${passes.map((p) => p.name).join(', ')}]`);
  if (stop < done) throw new Error(`internal: the program is past '${options.until}' (made by [${program.passes.join(', ')}])`);
  let current = program;
  for (const pass of passes.slice(done, stop)) {
    const next = pass.run(current);
    current = { ...next, passes: [...current.passes, pass.name] };
    verifyProgram(current, pass.name, { folded: passes.slice(0, current.passes.length).some((p) => p.folded) });
  }
  return current;
}

/** The whole pipeline for a model at an input size (or up to `until`). */
export function compileProgram(model: ModelConfig, input: InputSize, options: RunOptions = {}): Program {
  return runPipeline(startProgram(model, input, options.training, options.fusion), options);
}

/**
 * The passes a bare graph goes through — a graph no model lowered (the kernel tests build small
 * ones, some already differentiated): these of PASSES, in PASSES's order. Not `commute`, so the
 * kernels are those of the graph as built, its views folded; memory is the caller's to plan
 * (planGraph plans it around the tensors a test keeps).
 */
export const BARE_GRAPH_PASSES = ['fold', 'fuse'] as const satisfies readonly PassName[];

type BarePass = Extract<(typeof PASSES)[number], { name: (typeof BARE_GRAPH_PASSES)[number] }>;
const isBarePass = (pass: (typeof PASSES)[number]): pass is BarePass => (BARE_GRAPH_PASSES as readonly string[]).includes(pass.name);

/**
 * Run BARE_GRAPH_PASSES on a bare graph. Not verified: the verifier's rules are a model
 * program's (e.g. its first input is the clip, of the graph's input shape).
 */
export function runBareGraph(graph: Graph, options: { fusion?: FusionOptions } = {}): Stages {
  let current: Stages = { passes: [], graph, ...(options.fusion ? { fusion: options.fusion } : {}) };
  for (const pass of PASSES.filter(isBarePass)) current = { ...pass.run(current), passes: [...current.passes, pass.name] };
  return current;
}
