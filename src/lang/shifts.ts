// Shift declarations to PatchShift / ChannelShift values: the declaration's fields, then the
// field overrides a model or stage writes (`patch_shift.ratio = 0.5`), with their own checks:
// a square grid (PST252), a present grid (PST258), ratio in (0, 1] (PST254), fold in (0, 0.5] (PST255).
import type { ShiftDecl } from './ast.js';
import { applyMembers, channelShiftSchema, cloneBody, emptyBody, patchShiftSchema, type BodyNode, type Setting } from './body.js';
import type { Evaluator, Value } from './evaluate.js';
import type { Boundary, ChannelShift, PatchShift, Shift } from './model.js';
import type { Reporter } from './report.js';
import type { DeclRef } from './scope.js';
import type { Span } from './span.js';
import { readBool, readNumber, readWord } from './values.js';

export type ShiftRef = DeclRef & { decl: ShiftDecl };

export interface BuiltShift {
  shift: Shift;
  /** Where the ratio / fold in effect was written, if it was (for warnings about it). */
  ratioSpan?: Span;
  foldSpan?: Span;
}

const boundaries: readonly Boundary[] = ['cyclic', 'keep', 'zeros'];

export function evaluateSetting(s: Setting, ev: Evaluator, r: Reporter): Value | undefined {
  return s.kind === 'expr' ? ev.evaluate(s.expr, s.file, r) : undefined;
}

export class ShiftBuilder {
  private readonly bodies = new Map<ShiftDecl, BodyNode>();

  constructor(
    private readonly ev: Evaluator,
    /** Reports problems of a declaration's own body once, whoever uses it first. */
    private readonly declReporter: () => Reporter,
  ) {}

  private declBody(ref: ShiftRef): BodyNode {
    let body = this.bodies.get(ref.decl);
    if (!body) {
      body = emptyBody();
      const own = this.declReporter();
      const schema = ref.decl.shiftKind === 'patch' ? patchShiftSchema : channelShiftSchema;
      applyMembers(body, ref.decl.body, schema, ref.file, own, { unknownCode: 'PST212' });
      this.bodies.set(ref.decl, body);
    }
    return body;
  }

  /** The shift `ref` declares, with `overrides` (sections of field settings) applied in order. */
  build(ref: ShiftRef, overrides: readonly (BodyNode | undefined)[], r: Reporter): BuiltShift | undefined {
    const body = cloneBody(this.declBody(ref));
    for (const o of overrides) for (const [k, s] of o?.props ?? []) body.props.set(k, s);
    // A reporter of its own: this shift failing must not hide whether the caller failed before.
    const local = r.fresh();
    const built = ref.decl.shiftKind === 'patch' ? this.patch(ref, body, local) : this.channel(ref, body, local);
    if (local.failed) {
      r.poisoned();
      return undefined;
    }
    return built;
  }

  private field<T>(body: BodyNode, key: string, r: Reporter, read: (v: Value) => T | undefined, fallback: T): T | undefined {
    const s = body.props.get(key);
    if (!s) return fallback;
    const v = evaluateSetting(s, this.ev, r);
    return v === undefined ? undefined : read(v);
  }

  private patch(ref: ShiftRef, body: BodyNode, r: Reporter): BuiltShift | undefined {
    const grid = this.grid(ref, body.props.get('grid'), r);
    const ratioSetting = body.props.get('ratio');
    const ratio = this.field(body, 'ratio', r, (v) => readNumber(v, r), 1);
    if (ratio !== undefined && !(ratio > 0 && ratio <= 1)) {
      const span = ratioSetting?.kind === 'expr' ? ratioSetting.expr.span : ref.decl.name.span;
      r.error('PST254', span, `ratio ${ratio} is outside (0, 1]`, {
        expected: 'a fraction of the heads in (0, 1]',
        hint: 'ratio 1 shifts every head, 1/4 the first quarter',
      });
    }
    const boundary = this.field(body, 'boundary', r, (v) => readWord(v, boundaries, r), 'cyclic' as Boundary);
    const shiftBack = this.field(body, 'shift_back', r, (v) => readBool(v, r), true);
    if (r.failed || !grid || ratio === undefined || !boundary || shiftBack === undefined) return undefined;
    const shift: PatchShift = { kind: 'patch', name: ref.decl.name.name, grid, ratio, boundary, shiftBack, span: ref.decl.name.span };
    return { shift, ratioSpan: ratioSetting?.kind === 'expr' ? ratioSetting.expr.span : undefined };
  }

  private grid(ref: ShiftRef, setting: Setting | undefined, r: Reporter): number[][] | undefined {
    if (!setting || setting.kind !== 'grid') {
      r.error('PST258', ref.decl.name.span, `patch_shift \`${ref.decl.name.name}\` has no grid`, {
        expected: 'grid { rows of signed integers }',
        hint: 'add a `grid { … }` block: one row of signed temporal offsets per line',
      });
      return undefined;
    }
    const rows = setting.grid.rows.map((row) => row.map((c) => c.value));
    const n = rows.length;
    if (n === 0 || rows.some((row) => row.length !== n)) {
      const lengths = rows.map((x) => x.length);
      const listed = lengths.length > 8 ? `${lengths.slice(0, 8).join(', ')}, …` : lengths.join(', ');
      const what = n === 0 ? 'the grid is empty' : `the grid is not square: ${n} row${n === 1 ? '' : 's'} of ${listed} entries`;
      r.error('PST252', setting.grid.span, what, {
        expected: 'n rows of n entries each',
      });
      return undefined;
    }
    for (const cell of setting.grid.rows.flat()) {
      if (!Number.isInteger(cell.value)) {
        r.error('PST220', cell.span, `expected an int, got ${cell.raw}`, { expected: 'a temporal offset (an int)' });
        return undefined;
      }
    }
    return rows;
  }

  private channel(ref: ShiftRef, body: BodyNode, r: Reporter): BuiltShift | undefined {
    const foldSetting = body.props.get('fold');
    const fold = this.field(body, 'fold', r, (v) => readNumber(v, r), 1 / 8);
    if (fold !== undefined && !(fold > 0 && fold <= 0.5)) {
      const span = foldSetting?.kind === 'expr' ? foldSetting.expr.span : ref.decl.name.span;
      r.error('PST255', span, `fold ${fold} is outside (0, 1/2]`, {
        expected: 'a fraction of the head width in (0, 1/2]',
        hint: 'fold channels come from d-1 and as many from d+1, so at most half of them can move',
      });
    }
    const boundary = this.field(body, 'boundary', r, (v) => readWord(v, boundaries, r), 'keep' as Boundary);
    if (r.failed || fold === undefined || !boundary) return undefined;
    const shift: ChannelShift = { kind: 'channel', name: ref.decl.name.name, fold, boundary, span: ref.decl.name.span };
    return { shift, foldSpan: foldSetting?.kind === 'expr' ? foldSetting.expr.span : undefined };
  }
}
