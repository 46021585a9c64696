// Analyses of a lowered graph: parameters, multiply-adds and activation memory per stage, peak
// memory by liveness, the temporal receptive field, and the paper's three design principles for
// shift patterns. They read the IR (and the elaborated model it carries), never the syntax.
//
// Conventions, kept everywhere pstc prints them:
// - MACs: multiply-accumulates of the matrix products (linear layers, patch embedding, Q·Kᵀ and
//   A·V); elementwise ops (norms, GELU, softmax, adds) are not counted. This is what fvcore and
//   the video-Transformer papers report as "FLOPs"; real floating-point operations are ≈ 2 × MACs.
// - Memory: float32 bytes. Views (data movement) are folded into their consumers, so they hold
//   no memory of their own; every other node's output is one buffer, live from the node that
//   writes it until its last reader. Weights are counted apart.
import { foldChannels, headDim, patchOffset, patternReach, shiftedHeads, weightNames } from '../lang/facts.js';
import type { PatchShift, Shift, StageConfig } from '../lang/model.js';
import { F32_BYTES, type Graph, type Node, type NodeId, size } from './graph.js';
import { blockTemporalOffsets, frameLabel, patternPicture, wrappedFrame } from './pattern.js';
import { effectiveWindow, type Triple } from './window.js';

export interface PartCost {
  /** 'embed', 'stage 1', …, 'head' */
  part: string;
  params: number;
  macs: number;
  /** Bytes of all activations this part writes (one forward, views excluded). */
  activationBytes: number;
  /** Largest live activation memory while this part runs. */
  peakBytes: number;
  /** Output shape of the part (channels-last for stages). */
  outputShape: number[];
}

export interface CostReport {
  parts: PartCost[];
  total: { params: number; backboneParams: number; macs: number; activationBytes: number; peakBytes: number; weightBytes: number };
}

/** Which part of the model a node belongs to, from the module path in its label. */
export function partOf(label: string): string {
  const m = /^layers\.(\d+)\./.exec(label);
  if (m) return `stage ${Number(m[1]) + 1}`;
  if (label.startsWith('patch_embed') || label === 'clip' || label.startsWith('input')) return 'embed';
  return 'head';
}

/**
 * Where a node belongs at the grain of a block: 'stage 2 block 1', 'stage 3 merge' (the patch
 * merging in front of a stage), or its part (`partOf`: 'embed', 'head').
 */
export function blockOf(label: string): string {
  const block = /^layers\.(\d+)\.blocks\.(\d+)(\.|$)/.exec(label);
  if (block) return `stage ${Number(block[1]) + 1} block ${block[2]}`;
  const merge = /^layers\.(\d+)\.downsample\b/.exec(label);
  if (merge) return `stage ${Number(merge[1]) + 1} merge`;
  return partOf(label);
}

/**
 * Multiply-accumulates of one node (the convention above; the backward's matrix products count
 * too: its GEMMs are `linear` nodes, and the attention gradients recompute Q·Kᵀ).
 */
export function macsOf(graph: Graph, node: Node): number {
  switch (node.op.kind) {
    case 'linear': {
      const k = graph.nodes[node.inputs[0]!]!.shape.at(-1)!;
      return size(node.shape) * k;
    }
    case 'window_attention': {
      const [bw, n, c] = node.shape as [number, number, number];
      return 2 * bw * n * n * c; // Q·Kᵀ and A·V over all heads
    }
    case 'attention_grad_scores': {
      // Q·Kᵀ recomputed and dP = dout·Vᵀ, over all heads; dS is [Bw, heads, N, N].
      const [bw, , n] = node.shape as [number, number, number, number];
      const c = graph.nodes[node.inputs[0]!]!.shape.at(-1)! / 3;
      return 2 * bw * n * n * c;
    }
    case 'attention_grad_qkv': {
      // Q·Kᵀ recomputed (for P), dq = dS·K, dk = dSᵀ·Q, dv = Pᵀ·dout.
      const [bw, n, c3] = node.shape as [number, number, number];
      return 4 * bw * n * n * (c3 / 3);
    }
    default:
      return 0;
  }
}

/** A materialised tensor is any node but params and views; a view's readers read its source. */
function storageOf(graph: Graph): NodeId[] {
  return graph.nodes.map((n) => {
    let id = n.id;
    while (graph.nodes[id]!.op.kind === 'view' || graph.nodes[id]!.op.kind === 'output') id = graph.nodes[id]!.inputs[0]!;
    return id;
  });
}

export function costReport(graph: Graph): CostReport {
  const storage = storageOf(graph);
  const materialised = (n: Node) => n.op.kind !== 'param' && n.op.kind !== 'view' && n.op.kind !== 'output';
  const lastUse = new Map<NodeId, number>();
  for (const n of graph.nodes) for (const i of n.inputs) lastUse.set(storage[i]!, n.id);
  for (const out of Object.values(graph.outputs)) if (out !== undefined) lastUse.set(storage[out]!, graph.nodes.length);

  const parts = new Map<string, PartCost>();
  const partFor = (label: string): PartCost => {
    const name = partOf(label);
    let p = parts.get(name);
    if (!p) parts.set(name, (p = { part: name, params: 0, macs: 0, activationBytes: 0, peakBytes: 0, outputShape: [] }));
    return p;
  };
  partFor('patch_embed');
  let live = 0;
  let peak = 0;
  const frees = new Map<number, number>();
  let weightBytes = 0;
  for (const n of graph.nodes) {
    if (n.op.kind === 'param') {
      // Params count in the part their name belongs to ('layers.2.…' → stage 3).
      partFor(n.op.name).params += size(n.shape);
      weightBytes += F32_BYTES * size(n.shape);
      continue;
    }
    if (n.op.kind === 'output') continue;
    const p = partFor(n.label);
    p.macs += macsOf(graph, n);
    if (materialised(n)) {
      const bytes = F32_BYTES * size(n.shape);
      p.activationBytes += bytes;
      live += bytes;
      const end = lastUse.get(n.id) ?? n.id;
      frees.set(end, (frees.get(end) ?? 0) + bytes);
      p.outputShape = n.shape;
    }
    peak = Math.max(peak, live);
    p.peakBytes = Math.max(p.peakBytes, live);
    live -= frees.get(n.id) ?? 0;
  }
  const list = [...parts.values()];
  const total = {
    params: list.reduce((a, p) => a + p.params, 0),
    backboneParams: list.reduce((a, p) => a + p.params, 0) - countHeadParams(graph),
    macs: list.reduce((a, p) => a + p.macs, 0),
    activationBytes: list.reduce((a, p) => a + p.activationBytes, 0),
    peakBytes: peak,
    weightBytes,
  };
  return { parts: list, total };
}

function countHeadParams(graph: Graph): number {
  let n = 0;
  for (const id of graph.params) {
    const node = graph.nodes[id]!;
    if (node.op.kind === 'param' && node.op.name.startsWith(`${weightNames.head}.`)) n += size(node.shape);
  }
  return n;
}

// ---------------------------------------------------------------- temporal receptive field

export interface ReceptiveField {
  stage: number;
  /** Temporal tokens at this stage's input. */
  frames: number;
  /** Offsets one block of this stage mixes (union over its blocks): [min, max]. */
  blockRange: [number, number];
  /** Accumulated from the network input to the end of this stage: [min, max], in temporal tokens. */
  accumulated: [number, number];
  /** Distinct temporal tokens an output token can depend on (≤ frames). */
  reachableFrames: number;
}

/**
 * Temporal receptive field, in temporal tokens: each block adds the offsets its shift mixes
 * (blockTemporalOffsets) to what its input already covers. Window3d attention adds its temporal
 * window. The temporal axis is never downsampled after the patch embedding, so stages share one
 * time axis.
 */
export function receptiveField(graph: Graph): ReceptiveField[] {
  const d = temporalTokens(graph);
  let lo = 0;
  let hi = 0;
  const out: ReceptiveField[] = [];
  for (const stage of graph.model.stages) {
    let blo = 0;
    let bhi = 0;
    for (const block of stage.blocks) {
      const offsets = blockTemporalOffsets(block.shift);
      let min = Math.min(...offsets);
      let max = Math.max(...offsets);
      if (stage.attention === 'window3d') {
        const wd = Math.min(stage.window[0], d);
        min -= wd - 1;
        max += wd - 1;
      }
      blo = Math.min(blo, min);
      bhi = Math.max(bhi, max);
      lo += min;
      hi += max;
    }
    out.push({
      stage: stage.number,
      frames: d,
      blockRange: [blo, bhi],
      accumulated: [lo, hi],
      reachableFrames: Math.min(d, hi - lo + 1),
    });
  }
  return out;
}

export function temporalTokens(graph: Graph): number {
  const t = graph.inputShape[2]!;
  return Math.ceil(t / graph.model.embed.patch[0]);
}

/** (D, H, W) token map at the input of each stage. */
export function stageMaps(graph: Graph): Triple[] {
  const [, , t, h, w] = graph.inputShape as [number, number, number, number, number];
  const [pt, ph, pw] = graph.model.embed.patch;
  let map: Triple = [Math.ceil(t / pt), Math.ceil(h / ph), Math.ceil(w / pw)];
  const maps: Triple[] = [];
  for (const stage of graph.model.stages) {
    maps.push(map);
    if (stage.merge === 'patch_merging') map = [map[0], Math.ceil(map[1] / 2), Math.ceil(map[2] / 2)];
  }
  return maps;
}

// ---------------------------------------------------------------- design principles

export interface PrincipleNote {
  severity: 'note' | 'warning';
  principle: 'even spread' | 'temporal reach' | 'fraction moved';
  /** 'stage 1: pattern_c' */
  where: string;
  stage: number;
  /** The shift's name. */
  shift: string;
  message: string;
}

interface ShiftUse {
  stage: StageConfig;
  shift: Shift;
  map: Triple;
}

function shiftUses(graph: Graph): ShiftUse[] {
  const maps = stageMaps(graph);
  const uses: ShiftUse[] = [];
  graph.model.stages.forEach((stage, i) => {
    const seen = new Set<string>();
    for (const b of stage.blocks) {
      if (!b.shift || seen.has(b.shift.name)) continue;
      seen.add(b.shift.name);
      uses.push({ stage, shift: b.shift, map: maps[i]! });
    }
  });
  return uses;
}

/**
 * The paper's three principles for a patch-shift pattern, checked where each pattern is used:
 * 1. even spread: within a window, each offset's patches are spread out (no two 4-neighbours read
 *    the same shifted frame) and the grid tiles the window evenly;
 * 2. temporal reach: the pattern reaches far enough to mix time but not beyond the clip (offsets
 *    of ±D or more wrap around onto themselves);
 * 3. fraction moved: part of the patches, and part of the heads, stay in their own frame.
 */
export function principleNotes(graph: Graph): PrincipleNote[] {
  const notes: PrincipleNote[] = [];
  for (const { stage, shift, map } of shiftUses(graph)) {
    const where = `stage ${stage.number}: ${shift.name}`;
    const at = { where, stage: stage.number, shift: shift.name };
    const d = map[0];
    if (shift.kind === 'channel') {
      const c = headDim(stage);
      const fold = foldChannels(shift, c);
      const frac = (2 * fold * stage.heads) / stage.dim;
      notes.push({
        severity: fold === 0 ? 'warning' : 'note',
        principle: 'fraction moved',
        ...at,
        message:
          fold === 0
            ? `moves no channel: floor(${c} · ${shift.fold}) = 0 channels per head`
            : `moves ${fold}+${fold} of ${c} channels per head (${pct(frac)} of channels) to frames d∓1`,
      });
      continue;
    }
    const eff = effectiveWindow(stage, { shiftWindows: false }, map);
    const [, wh, ww] = eff.window;
    notes.push({ ...evenSpread(shift, wh, ww), ...at });
    const reach = patternReach(shift);
    const reachWarn = reach >= d || 2 * reach + 1 > d;
    notes.push({
      severity: reach === 0 || reachWarn ? 'warning' : 'note',
      principle: 'temporal reach',
      ...at,
      message:
        reach === 0
          ? 'all offsets are 0: the pattern moves nothing'
          : reachWarn
            ? `reach ±${reach} spans ${2 * reach + 1} frames but the clip has ${d} temporal tokens here: offsets wrap around (${shift.boundary}) and patches alias` +
              (shift.boundary === 'cyclic' ? `; ${wrappedGrid(shift, d)}` : '')
            : `reach ±${reach}: a window sees ${distinct(shift)} frames of ${d} temporal tokens`,
    });
    const cells = shift.grid.flat();
    const movedPositions = countMoved(shift, wh, ww) / (wh * ww);
    const heads = shiftedHeads(shift, stage.heads);
    const movedFraction = (movedPositions * heads) / stage.heads;
    notes.push({
      severity: heads === 0 || movedFraction === 0 || movedFraction === 1 ? 'warning' : 'note',
      principle: 'fraction moved',
      ...at,
      message:
        heads === 0
          ? `shifts no head: floor(${stage.heads} · ${shift.ratio}) = 0`
          : `${pct(movedPositions)} of window positions (${cells.filter((s) => s !== 0).length}/${cells.length} grid cells) in ${heads} of ${stage.heads} heads: ${pct(movedFraction)} of patch features move` +
            (movedFraction === 1 ? '; no query keeps its own frame in any head' : ''),
    });
  }
  return notes;
}

function evenSpread(shift: PatchShift, wh: number, ww: number): Omit<PrincipleNote, 'where' | 'stage' | 'shift'> {
  const at = (h: number, w: number) => patchOffset(shift.grid, h, w);
  let clashes = 0;
  let pairs = 0;
  for (let h = 0; h < wh; h++)
    for (let w = 0; w < ww; w++) {
      for (const [dh, dw] of [[0, 1], [1, 0]] as const) {
        if (h + dh >= wh || w + dw >= ww) continue;
        pairs++;
        if (at(h, w) !== 0 && at(h, w) === at(h + dh, w + dw)) clashes++;
      }
    }
  const rows = shift.grid.length;
  const cols = shift.grid[0]!.length;
  const uneven = wh % rows !== 0 || ww % cols !== 0;
  const tiling = uneven
    ? `the ${rows}×${cols} grid tiles a ${wh}×${ww} window unevenly (${wh % rows || rows} and ${ww % cols || cols} cells left over)`
    : `the ${rows}×${cols} grid tiles the ${wh}×${ww} window evenly`;
  return {
    severity: clashes > 0 ? 'warning' : 'note',
    principle: 'even spread',
    message:
      clashes > 0
        ? `${clashes} of ${pairs} neighbouring pairs read the same shifted frame: shifted patches cluster; ${tiling}`
        : `no two neighbours read the same shifted frame; ${tiling}`,
  };
}

/** What a cyclic pattern runs as on `tokens` temporal tokens, as the picture's rows. */
function wrappedGrid(shift: PatchShift, tokens: number): string {
  const rows = shift.grid.length;
  const cols = shift.grid[0]!.length;
  const read = patternPicture(shift, rows, cols).read.map((row) => row.map((rel) => wrappedFrame(rel, tokens)));
  const own = read.flat().filter((rel) => rel === 0).length;
  return (
    `on ${tokens} tokens the grid runs as ${read.map((row) => row.map(frameLabel).join(', ')).join(' / ')} ` +
    `(rows; ${own} of ${rows * cols} cells read their own frame)`
  );
}

function countMoved(shift: PatchShift, wh: number, ww: number): number {
  let n = 0;
  for (let h = 0; h < wh; h++) for (let w = 0; w < ww; w++) if (patchOffset(shift.grid, h, w) !== 0) n++;
  return n;
}

function distinct(shift: PatchShift): number {
  return new Set(shift.grid.flat()).size;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(x === 1 || x === 0 ? 0 : 1)}%`;
}
