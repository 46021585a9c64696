// A model's resolved body (extends and overrides already applied) to a ModelConfig: defaults
// filled in, every value type-checked, stages numbered, shifts placed on blocks, the drop-path
// schedule computed, and the checks that relate several values (heads divide dim, the window
// holds the pattern, the bias table reaches the pattern's offsets, …).
import type { BodyNode, SectionNode, Setting } from './body.js';
import { describe, type Evaluator, type Value } from './evaluate.js';
import type {
  AttentionKind,
  BlockConfig,
  EmbedConfig,
  HeadConfig,
  InputConfig,
  ModelConfig,
  PatchShift,
  Shift,
  StageConfig,
} from './model.js';
import type { Reporter } from './report.js';
import { readDataSection } from './data-config.js';
import { readTrainSection } from './train-config.js';
import { configProblems, foldChannels, headDim, MAX_WIDTH, patternReach, shiftedHeads } from './facts.js';
import { evaluateSetting, type BuiltShift, type ShiftBuilder, type ShiftRef } from './shifts.js';
import type { Span } from './span.js';
import { didYouMean, readBool, readInt, readIntTuple, readNumber, readWord, type Range } from './values.js';

export interface ElabContext {
  ev: Evaluator;
  shifts: ShiftBuilder;
  r: Reporter;
  /** The body had invalid members (reported): a field that seems missing may be one of them, so
   *  missing fields only fail the model instead of adding an error of their own. */
  quietMissing?: boolean;
}

const unit: Range = { min: 0, below: 1 };
// Sanity bounds, far above any real model, so that a typo (`depth = 1e9`) is an error rather
// than a billion-block allocation.
const depthRange: Range = { min: 1, max: 1024 };
const headsRange: Range = { min: 1, max: 4096 };
const dimRange: Range = { min: 1, max: MAX_WIDTH };

/** The elaborated model, or undefined when it has errors (all of them reported through ctx.r). */
export function elaborateModel(name: string, nameSpan: Span, body: BodyNode, ctx: ElabContext): ModelConfig | undefined {
  const m = new ModelReader(body, ctx);
  const input = m.input();
  const embed = m.embed(nameSpan);
  const finalNorm = m.read(body.props.get('norm'), (v) => readWord(v, ['layernorm', 'none'], ctx.r), 'layernorm');
  const head = m.head(nameSpan);
  const stages = m.stages(nameSpan, embed?.dim);
  const dataNode = body.sections.get('data');
  const data = dataNode && readDataSection(dataNode, ctx.ev, ctx.r, head?.classes);
  const trainNode = body.sections.get('train');
  const trainDefaults = trainNode && readTrainSection(trainNode, ctx.ev, ctx.r);
  if (ctx.r.failed || !input || !embed || !finalNorm || head === undefined || !stages || (dataNode && !data) || (trainNode && !trainDefaults)) return undefined;
  const model: ModelConfig = {
    name,
    embed,
    stages,
    finalNorm: finalNorm === 'layernorm',
    head,
    input,
    ...(data ? { data } : {}),
    ...(trainDefaults ? { train: trainDefaults } : {}),
    span: nameSpan,
  };
  // What lowering and the backends need beyond the values themselves (facts.ts owns the rules).
  for (const p of configProblems(model)) {
    const span = m.pointAt(p.stage, p.fields) ?? stages[p.stage]?.span ?? nameSpan;
    if (m.once(p.code, span)) ctx.r.error(p.code, span, p.message, { expected: p.expected, hint: p.hint });
    else ctx.r.poisoned();
  }
  return ctx.r.failed ? undefined : model;
}

/** A shift a block gets, as written in `shifts`. */
type Entry = { kind: 'none' } | { kind: 'tps' | 'tcs'; span: Span } | { kind: 'named'; ref: ShiftRef; span: Span };

interface PlacedShift extends BuiltShift {
  /** Where this shift was chosen (the `patch_shift = …` value, or its name in `shifts`). */
  bindSpan: Span;
  /** When that was written (Setting.seq). */
  bindSeq: number;
}

/** The span of whichever setting was written last: the one that made a combination invalid. */
function latest(...candidates: (readonly [Span | undefined, number | undefined])[]): Span | undefined {
  let best: readonly [Span | undefined, number | undefined] | undefined;
  for (const c of candidates) if (c[0] && (!best || (c[1] ?? -1) > (best[1] ?? -1))) best = c;
  return best?.[0];
}

class ModelReader {
  private readonly r: Reporter;
  /** (code, span) pairs reported for this model: a model-level setting wrong for every stage is
   *  reported once, for the first stage, not once per stage. */
  private readonly reported = new Set<string>();
  /** The readers of the stages built, by stage index: they know where each setting was written. */
  private readonly stageReaders: StageReader[] = [];

  /** Of the settings `fields` of stage index s (`prev.KEY`: of the stage before), the one written
   *  last; undefined if none is written. */
  pointAt(s: number, fields: string[]): Span | undefined {
    const spans = fields.map((f) => (f.startsWith('prev.') ? this.stageReaders[s - 1]?.writtenAt(f.slice(5)) : this.stageReaders[s]?.writtenAt(f)));
    return latest(...spans.filter((x) => x !== undefined));
  }

  once(code: string, span: Span): boolean {
    const key = `${code}|${span.file}|${span.startOffset}|${span.endOffset}`;
    if (this.reported.has(key)) return false;
    this.reported.add(key);
    return true;
  }

  constructor(
    private readonly body: BodyNode,
    private readonly ctx: ElabContext,
  ) {
    this.r = ctx.r;
  }

  /** A setting's value through `reader`, or `fallback` when it is not set. */
  read<T>(s: Setting | undefined, reader: (v: Value) => T | undefined, fallback: T): T | undefined {
    if (!s) return fallback;
    const v = evaluateSetting(s, this.ctx.ev, this.r);
    return v === undefined ? undefined : reader(v);
  }

  missing(span: Span, what: string, expected: string, hint?: string): undefined {
    if (this.ctx.quietMissing) return this.r.poisoned();
    this.r.error('PST258', span, `missing \`${what}\``, { expected, hint });
    return undefined;
  }

  input(): InputConfig | undefined {
    const s = this.body.sections.get('input');
    const get = (k: string, d: number) => this.read(s?.props.get(k), (v) => readInt(v, this.r), d);
    const frames = get('frames', 16);
    const size = get('size', 224);
    const batch = get('batch', 1);
    if (frames === undefined || size === undefined || batch === undefined) return undefined;
    return { frames, size, batch };
  }

  embed(nameSpan: Span): EmbedConfig | undefined {
    const s = this.body.sections.get('embed');
    const at = s?.span ?? nameSpan;
    const patchSetting = s?.props.get('patch');
    const dimSetting = s?.props.get('dim');
    const patch = patchSetting
      ? this.read(patchSetting, (v) => readIntTuple(v, 3, this.r), undefined)
      : this.missing(at, 'embed.patch', 'embed { patch = (t, h, w) }', 'PST-T uses `patch = (2, 4, 4)`');
    const dim = dimSetting
      ? this.read(dimSetting, (v) => readInt(v, this.r, dimRange), undefined)
      : this.missing(at, 'embed.dim', 'embed { dim = N }', 'PST-T uses `dim = 96`');
    const norm = this.read(s?.props.get('norm'), (v) => readWord(v, ['layernorm', 'none'], this.r), 'layernorm');
    const channels = this.read(this.body.sections.get('input')?.props.get('channels'), (v) => readInt(v, this.r), 3);
    if (!patch || dim === undefined || !norm || channels === undefined) return undefined;
    return { patch: patch as [number, number, number], dim, norm: norm === 'layernorm', inChannels: channels };
  }

  head(nameSpan: Span): HeadConfig | null | undefined {
    const prop = this.body.props.get('head');
    if (prop) {
      const v = evaluateSetting(prop, this.ctx.ev, this.r);
      if (v?.kind === 'word' && v.name === 'none') return null;
      if (v?.kind === 'poison') return this.r.poisoned();
      if (v) {
        this.r.error('PST220', v.span, `expected \`none\`, got ${describe(v)}`, {
          expected: '`head = none` (a backbone) or a `head { … }` section',
        });
      }
      return undefined;
    }
    const s = this.body.sections.get('head');
    const pool = this.read(s?.props.get('pool'), (v) => readWord(v, ['mean'], this.r), 'mean');
    const dropout = this.read(s?.props.get('dropout'), (v) => readNumber(v, this.r, unit), 0.5);
    const classesSetting = s?.props.get('classes');
    const classes = classesSetting
      ? this.read(classesSetting, (v) => readInt(v, this.r), undefined)
      : this.missing(s?.span ?? nameSpan, 'head.classes', 'head { classes = N }', 'or write `head = none` for a backbone without a head');
    if (!pool || dropout === undefined || classes === undefined) return undefined;
    return { pool, dropout, classes };
  }

  stages(nameSpan: Span, embedDim: number | undefined): StageConfig[] | undefined {
    const nodes = [...this.body.sections.values()].filter((s) => s.name === 'stage').sort((a, b) => a.index! - b.index!);
    if (nodes.length === 0) {
      return this.missing(nameSpan, 'stage 1', 'stage 1 { depth = N  heads = N }', 'a model needs at least one stage');
    }
    // Stop at the first gap: stages after it have no number to speak of.
    const numbered: SectionNode[] = [];
    for (const [i, node] of nodes.entries()) {
      if (node.index !== i + 1) {
        this.r.error('PST230', node.span, `stage ${node.index} follows ${i === 0 ? 'no stage' : `stage ${i}`}: stages are numbered 1, 2, … without gaps`, {
          expected: `stage ${i + 1}`,
        });
        break;
      }
      numbered.push(node);
    }
    const modelDropPath = this.read(this.body.props.get('drop_path'), (v) => readNumber(v, this.r, unit), 0);
    const stages: StageConfig[] = [];
    for (const node of numbered) {
      const reader = new StageReader(node, this, this.body, this.ctx, embedDim);
      this.stageReaders.push(reader);
      const stage = reader.read(node === numbered[numbered.length - 1]);
      if (stage) stages.push(stage);
    }
    if (stages.length !== nodes.length || modelDropPath === undefined) return undefined;
    applyDropPath(stages, numbered, modelDropPath);
    return stages;
  }
}

/** Model-level drop_path rises linearly over all blocks (torch.linspace(0, rate, K)); a stage's own drop_path is constant. */
function applyDropPath(stages: StageConfig[], nodes: SectionNode[], rate: number): void {
  const total = stages.reduce((n, s) => n + s.depth, 0);
  let k = 0;
  for (const [i, stage] of stages.entries()) {
    const own = nodes[i]!.props.has('drop_path');
    for (const block of stage.blocks) {
      if (!own) block.dropPath = total > 1 ? (rate * k) / (total - 1) : 0;
      k++;
    }
  }
}

class StageReader {
  private readonly r: Reporter;
  private readonly n: number;

  constructor(
    private readonly node: SectionNode,
    private readonly m: ModelReader,
    private readonly model: BodyNode,
    private readonly ctx: ElabContext,
    private readonly embedDim: number | undefined,
  ) {
    this.r = ctx.r;
    this.n = node.index!;
  }

  /** The stage's own setting, else the model's default. */
  private setting(key: string): Setting | undefined {
    return this.node.props.get(key) ?? this.model.props.get(key);
  }

  private get<T>(key: string, reader: (v: Value) => T | undefined, fallback: T): T | undefined {
    return this.m.read(this.setting(key), reader, fallback);
  }

  private spanOf(key: string): Span | undefined {
    const s = this.setting(key);
    return s?.kind === 'expr' ? s.expr.span : undefined;
  }

  /** [span, seq] of a setting, for `latest`. */
  private written(key: string, s: Setting | undefined = this.setting(key)): readonly [Span | undefined, number | undefined] {
    return [s?.kind === 'expr' ? s.expr.span : undefined, s?.seq];
  }

  /** Where this stage's setting `key` was written, and when (for `latest`); a dim counts only
   *  where the stage writes it (a default dim is embed.dim · 2^(n−1), nowhere in particular). */
  writtenAt(key: string): readonly [Span | undefined, number | undefined] {
    return key === 'dim' ? this.written('dim', this.node.props.get('dim')) : this.written(key);
  }

  /** An error for a check that may fail in several stages because of one model-level setting. */
  private fail(code: string, span: Span, message: string, extra: Parameters<Reporter['error']>[3]): void {
    if (this.m.once(code, span)) this.r.error(code, span, message, extra);
    else this.r.poisoned();
  }

  private warn(code: string, span: Span, message: string, extra: Parameters<Reporter['warning']>[3]): void {
    if (this.m.once(code, span)) this.r.warning(code, span, message, extra);
  }

  read(isLast: boolean): StageConfig | undefined {
    const r = this.r;
    const before = r.failed;
    r.failed = false;
    const depth = this.required('depth');
    const heads = this.required('heads');
    const dim = this.node.props.has('dim')
      ? this.get('dim', (v) => readInt(v, r, dimRange), undefined)
      : this.embedDim === undefined
        ? undefined
        : this.embedDim * 2 ** (this.n - 1);
    if (dim !== undefined && dim > dimRange.max!) {
      r.error('PST222', this.node.span, `stage ${this.n}'s default dim ${dim} is out of range`, { expected: `dim ≤ ${dimRange.max}` });
    }
    const attention = this.get('attention', (v) => readWord(v, ['window2d', 'window3d'] as AttentionKind[], r), 'window2d');
    const window = this.window(attention);
    const biasFrames = this.get('bias_frames', (v) => readInt(v, r), 1);
    const mlpRatio = this.get('mlp_ratio', (v) => readNumber(v, r, { above: 0 }), 4);
    const qkvBias = this.get('qkv_bias', (v) => readBool(v, r), true);
    const dropout = this.get('dropout', (v) => readNumber(v, r, unit), 0);
    const attnDropout = this.get('attn_dropout', (v) => readNumber(v, r, unit), 0);
    const ownDropPath = this.m.read(this.node.props.get('drop_path'), (v) => readNumber(v, r, unit), 0);
    const shiftWindows = this.get('shift_windows', (v) => readWord(v, ['alternate', 'none'], r), 'alternate');
    const merge = this.get('merge', (v) => readWord(v, ['patch_merging', 'none'], r), 'patch_merging');

    if (heads !== undefined && dim !== undefined && dim % heads !== 0) {
      const dimSetting = this.node.props.get('dim') ?? this.model.sections.get('embed')?.props.get('dim');
      const span = latest(this.written('heads'), this.written('dim', dimSetting))!;
      this.fail('PST250', span, `${heads} heads do not divide dim ${dim} of stage ${this.n}`, {
        expected: `a divisor of ${dim}`,
        hint: `head width would be ${+(dim / heads).toFixed(2)}; try ${divisorsNear(dim, heads)}`,
      });
    }
    if (attention === 'window3d' && window && biasFrames !== undefined && biasFrames !== window[0]) {
      const span = latest(this.written('bias_frames'), this.written('window'), this.written('attention'))!;
      this.fail('PST257', span, `window3d needs bias_frames = window depth ${window[0]}, got ${biasFrames}`, {
        expected: `bias_frames = ${window[0]}`,
      });
    }

    const entries = depth === undefined ? undefined : this.placement(depth);
    const blocks: BlockConfig[] = [];
    if (entries && window && heads !== undefined && dim !== undefined && biasFrames !== undefined) {
      const resolve = this.resolver();
      for (const [j, entry] of entries.entries()) {
        const placed = resolve(entry);
        if (placed === undefined) continue;
        if (placed) this.checkUse(placed, window, heads, dim, biasFrames);
        blocks.push({ index: j, shift: placed?.shift ?? null, shiftWindows: shiftWindows === 'alternate' && j % 2 === 1, dropPath: ownDropPath ?? 0 });
      }
    }
    // A bound shift is checked even where no block uses it (a typo in it is still a typo).
    this.bound('patch_shift');
    this.bound('channel_shift');

    const failed = r.failed;
    r.failed = before || failed;
    if (failed) return undefined;
    return {
      number: this.n,
      depth: depth!,
      dim: dim!,
      heads: heads!,
      attention: attention!,
      window: window!,
      biasFrames: biasFrames!,
      mlpRatio: mlpRatio!,
      qkvBias: qkvBias!,
      dropout: dropout!,
      attnDropout: attnDropout!,
      blocks,
      // Never after the last stage: there is nothing to merge into.
      merge: isLast ? 'none' : merge!,
      span: this.node.span,
    };
  }

  private required(key: 'depth' | 'heads'): number | undefined {
    if (!this.node.props.has(key)) {
      if (this.ctx.quietMissing) return this.r.poisoned();
      this.r.error('PST258', this.node.span, `stage ${this.n} has no \`${key}\``, { expected: `stage ${this.n} { ${key} = N }` });
      return undefined;
    }
    return this.get(key, (v) => readInt(v, this.r, key === 'depth' ? depthRange : headsRange), undefined);
  }

  private window(attention: AttentionKind | undefined): [number, number, number] | undefined {
    const w = this.get('window', (v) => readIntTuple(v, 3, this.r, {}), [1, 7, 7]);
    if (!w) return undefined;
    const span = this.spanOf('window');
    if (w.some((x) => x < 1)) {
      this.fail('PST251', span!, `window (${w.join(', ')}) has a dimension below 1`, { expected: 'a window (d, h, w) of positive sizes' });
      return undefined;
    }
    if (attention === 'window2d' && w[0] !== 1) {
      this.fail('PST251', latest([span, this.setting('window')?.seq], this.written('attention'))!, `window2d needs window depth 1, got (${w.join(', ')})`, {
        expected: `(1, ${w[1]}, ${w[2]})`,
        hint: 'for 3-D windows write `attention = window3d`',
      });
      return undefined;
    }
    return w as [number, number, number];
  }

  /** `shifts` as one entry per block. */
  private placement(depth: number): Entry[] | undefined {
    const s = this.setting('shifts');
    if (!s) return Array.from({ length: depth }, () => ({ kind: 'none' }));
    const v = evaluateSetting(s, this.ctx.ev, this.r);
    if (!v) return undefined;
    const expected = '`none`, `alternate(…)`, `all(…)` or a list of shifts';
    if (v.kind === 'word' && v.name === 'none') return Array.from({ length: depth }, () => ({ kind: 'none' }));
    if (v.kind === 'call') {
      const args = v.args.map((a) => this.entry(a));
      if (args.some((a) => a === undefined)) return undefined;
      const cycle = args as Entry[];
      if (v.callee === 'alternate' && cycle.length >= 1) return Array.from({ length: depth }, (_, j) => cycle[j % cycle.length]!);
      if (v.callee === 'all' && cycle.length === 1) return Array.from({ length: depth }, () => cycle[0]!);
      if (v.callee === 'alternate' || v.callee === 'all') {
        this.r.error('PST220', v.span, `${v.callee}(…) takes ${v.callee === 'all' ? 'one shift' : 'one or more shifts'}, got ${v.args.length}`, { expected });
        return undefined;
      }
      this.r.error('PST211', v.calleeSpan, `unknown placement \`${v.callee}\``, { expected, hint: didYouMean(v.callee, ['alternate', 'all']) });
      return undefined;
    }
    if (v.kind === 'list') {
      const list = v.elements.map((a) => this.entry(a));
      if (list.some((a) => a === undefined)) return undefined;
      if (list.length !== depth) {
        this.fail('PST240', v.span, `the list places ${list.length} shift${list.length === 1 ? '' : 's'}, but stage ${this.n} has depth ${depth}`, {
          expected: `a list of ${depth} entries, one per block`,
          hint: 'or write the placement per stage: `stage N { shifts = […] }`',
        });
        return undefined;
      }
      return list as Entry[];
    }
    if (v.kind === 'poison') return this.r.poisoned();
    this.r.error('PST220', v.span, `expected a shift placement, got ${describe(v)}`, { expected });
    return undefined;
  }

  private entry(v: Value): Entry | undefined {
    const expected = '`tps`, `tcs`, `none` or the name of a patch_shift or channel_shift';
    if (v.kind === 'word') {
      if (v.name === 'none') return { kind: 'none' };
      if (v.name === 'tps' || v.name === 'tcs') return { kind: v.name, span: v.span };
      if (v.decl?.decl.kind === 'shift') return { kind: 'named', ref: v.decl as ShiftRef, span: v.span };
      if (!v.decl) {
        const shifts = [...v.scope].filter(([, d]) => d.decl.kind === 'shift').map(([n]) => n);
        this.r.error('PST211', v.span, `unknown shift \`${v.name}\``, { expected, hint: didYouMean(v.name, ['tps', 'tcs', 'none', ...shifts]) });
        return undefined;
      }
    }
    if (v.kind === 'poison') return this.r.poisoned();
    this.r.error('PST220', v.span, `expected a shift, got ${describe(v)}`, { expected });
    return undefined;
  }

  /** The shift a `patch_shift` / `channel_shift` binding names here, with field overrides applied. */
  private bound(key: 'patch_shift' | 'channel_shift'): PlacedShift | null | undefined {
    const setting = this.setting(key);
    const overrides = [this.model.sections.get(key), this.node.sections.get(key)];
    if (!setting) {
      const o = overrides.find((x) => x && x.props.size > 0);
      if (o) {
        this.r.error('PST241', o.span, `\`${key}\` fields are overridden, but no ${key} is bound`, {
          hint: `bind one first: \`${key} = ${key === 'patch_shift' ? 'pattern_c' : 'tcs_eighth'}\``,
        });
        return undefined;
      }
      return null;
    }
    const v = evaluateSetting(setting, this.ctx.ev, this.r);
    if (!v) return undefined;
    const kind = key === 'patch_shift' ? 'patch' : 'channel';
    if (v.kind === 'word' && v.decl?.decl.kind === 'shift' && v.decl.decl.shiftKind === kind) {
      const built = this.ctx.shifts.build(v.decl as ShiftRef, overrides, this.r);
      return built && { ...built, bindSpan: v.span, bindSeq: setting.seq ?? -1 };
    }
    if (v.kind === 'poison') return this.r.poisoned();
    const names = v.kind === 'word' ? [...v.scope].filter(([, d]) => d.decl.kind === 'shift' && d.decl.shiftKind === kind).map(([n]) => n) : [];
    if (v.kind === 'word' && !v.decl) {
      this.r.error('PST211', v.span, `unknown ${key} \`${v.name}\``, { expected: `the name of a ${key}`, hint: didYouMean(v.name, names) });
    } else {
      this.r.error('PST220', v.span, `expected a ${key}, got ${describe(v)}`, { expected: `the name of a ${key}` });
    }
    return undefined;
  }

  /** Entry → shift, each distinct entry resolved once per stage (so an error is reported once). */
  private resolver(): (e: Entry) => PlacedShift | null | undefined {
    const memo = new Map<unknown, PlacedShift | null | undefined>();
    return (e) => {
      if (e.kind === 'none') return null;
      const key = e.kind === 'named' ? e.ref.decl : e.kind;
      if (memo.has(key)) return memo.get(key);
      let placed: PlacedShift | null | undefined;
      if (e.kind === 'named') {
        const built = this.ctx.shifts.build(e.ref, [], this.r);
        placed = built && { ...built, bindSpan: e.span, bindSeq: this.setting('shifts')?.seq ?? -1 };
      } else {
        const key2 = e.kind === 'tps' ? 'patch_shift' : 'channel_shift';
        placed = this.bound(key2);
        if (placed === null) {
          this.r.error('PST241', e.span, `\`${e.kind}\` is used, but no ${key2} is bound here`, {
            hint: `bind one: \`${key2} = ${key2 === 'patch_shift' ? 'pattern_c' : 'tcs_eighth'}\`, or leave \`${e.kind}\` out`,
          });
          placed = undefined;
        }
      }
      memo.set(key, placed);
      return placed;
    };
  }

  /** Checks that need the shift and the stage together; each (shift, stage) once. */
  private readonly checked = new Set<Shift>();
  private checkUse(placed: PlacedShift, window: [number, number, number], heads: number, dim: number, biasFrames: number): void {
    const shift = placed.shift;
    if (this.checked.has(shift)) return;
    this.checked.add(shift);
    if (shift.kind === 'patch') this.checkPatch(shift, placed, window, heads, biasFrames);
    else if (dim % heads === 0 && foldChannels(shift, headDim({ dim, heads })) === 0) {
      this.warn('PST259', placed.foldSpan ?? placed.bindSpan, `channel shift \`${shift.name}\` moves no channel in stage ${this.n}: floor(${dim / heads} × ${shift.fold}) = 0`, {
        hint: `head width is ${dim / heads}; a fold of at least 1/${dim / heads} moves one channel each way`,
      });
    }
  }

  private checkPatch(shift: PatchShift, placed: PlacedShift, window: [number, number, number], heads: number, biasFrames: number): void {
    const rows = shift.grid.length;
    const cols = shift.grid[0]!.length;
    const bound = [placed.bindSpan, placed.bindSeq] as const;
    if (rows > window[1] || cols > window[2]) {
      this.fail('PST252', latest(bound, this.written('window'))!, `pattern \`${shift.name}\` has a ${rows}×${cols} grid, larger than the ${window[1]}×${window[2]} window of stage ${this.n}`, {
        expected: `a grid of at most ${window[1]}×${window[2]}`,
        hint: `use a window of at least (1, ${rows}, ${cols}), or a smaller pattern`,
      });
    }
    const reach = patternReach(shift);
    if (reach >= biasFrames) {
      this.fail('PST253', latest(bound, this.written('bias_frames'))!, `pattern \`${shift.name}\` shifts tokens by up to ${reach} frame${reach === 1 ? '' : 's'}, beyond the ${biasFrames === 1 ? '2-D bias table (bias_frames = 1)' : `bias table of ${biasFrames} frames`} of stage ${this.n}`, {
        expected: `bias_frames ≥ ${reach + 1}`,
        hint: `set \`bias_frames = ${Math.max(reach + 1, 16)}\` (PST uses 16)`,
      });
    }
    if (shiftedHeads(shift, heads) === 0) {
      this.warn('PST256', placed.ratioSpan ?? placed.bindSpan, `pattern \`${shift.name}\` shifts no head of stage ${this.n}: floor(${heads} × ${shift.ratio}) = 0`, {
        hint: `a ratio of at least 1/${heads} shifts one head`,
      });
    }
  }
}

/** The head counts nearest `heads` that divide `dim` (at most two), for the PST250 hint. */
function divisorsNear(dim: number, heads: number): string {
  const divisors: number[] = [];
  for (let d = 1; d <= Math.min(dim, 2 * heads); d++) if (dim % d === 0) divisors.push(d);
  const near = divisors.sort((a, b) => Math.abs(a - heads) - Math.abs(b - heads) || a - b).slice(0, 2);
  return near.length ? near.map((x) => `heads = ${x}`).join(' or ') : 'another head count';
}
