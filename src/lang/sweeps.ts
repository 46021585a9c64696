// Sweeps to model variants. Axes combine as a grid (every combination, first axis outermost) or
// as a list (zipped); explicit variants are bodies of overrides. Each variant is a copy of the
// base model's resolved body with the axis values (or the variant body) applied, elaborated and
// checked like any model, so an error caused by an axis value points at that value.
import type { AxisDecl, SweepDecl, VariantDecl } from './ast.js';
import { applyMembers, cloneBody, modelSchema, pathSpan, pathText, setPath, type BodyNode, type Setting } from './body.js';
import type { Evaluator } from './evaluate.js';
import type { ModelConfig } from './model.js';
import { Reporter } from './report.js';
import type { DeclRef } from './scope.js';
import type { Span } from './span.js';
import { readWord } from './values.js';

/** More variants than anyone trains is a mistake (or a fuzzer), not a plan. */
const maxVariants = 4096;

export type SweepRef = DeclRef & { decl: SweepDecl };

export interface SweepVariant {
  name: string;
  /** Undefined when the variant has errors (reported). */
  config?: ModelConfig;
}

export interface SweepContext {
  ev: Evaluator;
  r: Reporter;
  /** The source text a span covers, for variant names (`ratio[patch_shift.ratio=1/4]`). */
  text: (span: Span) => string;
  /** Elaborate one variant's body (with its own reporter). */
  elaborate: (name: string, span: Span, body: BodyNode) => ModelConfig | undefined;
}

export function expandSweep(ref: SweepRef, base: BodyNode, ctx: SweepContext): SweepVariant[] {
  const { decl, file } = ref;
  const r = ctx.r;
  const axes = decl.body.filter((m): m is AxisDecl => m.kind === 'axis');
  const variants = decl.body.filter((m): m is VariantDecl => m.kind === 'variant');
  const mode = readMode(ref, ctx);

  // Validate each axis path once, on a scratch copy of the base (PST260, duplicates PST213).
  const scratch = cloneBody(base);
  const seen = new Map<string, Span>();
  let axesOk = mode !== undefined;
  for (const axis of axes) {
    const probe: Setting = { kind: 'expr', expr: axis.values, file, pathSpan: pathSpan(axis.path) };
    if (!setPath(scratch, axis.path, probe, modelSchema, r, { unknownCode: 'PST260', mustExist: true, seen })) axesOk = false;
    if (axis.values.elements.length === 0) {
      r.error('PST262', axis.values.span, `axis \`${pathText(axis.path)}\` has no values`, { expected: 'a list of one or more values' });
      axesOk = false;
    }
  }
  if (mode === 'list' && axes.length > 1) {
    const n = axes[0]!.values.elements.length;
    for (const axis of axes.slice(1)) {
      if (axis.values.elements.length !== n) {
        r.error('PST261', axis.values.span, `mode = list zips the axes, but this one has ${axis.values.elements.length} values and the first has ${n}`, {
          expected: `${n} values`,
          hint: 'use mode = grid for every combination',
        });
        axesOk = false;
      }
    }
  }
  const count = mode === 'list' ? (axes[0]?.values.elements.length ?? 0) : axes.reduce((n, a) => n * a.values.elements.length, 1);
  if (axesOk && count > maxVariants) {
    r.error('PST264', decl.name.span, `sweep \`${decl.name.name}\` would make ${count} variants, more than ${maxVariants}`, {
      hint: 'split it into several sweeps, or use mode = list',
    });
    axesOk = false;
  }
  if (axes.length === 0 && variants.length === 0) {
    r.warning('PST263', decl.name.span, `sweep \`${decl.name.name}\` has no axes and no variants`, {
      hint: 'add `axis path = [v1, v2]` or `variant name { … }`',
    });
  }

  const out: SweepVariant[] = [];
  if (axesOk && axes.length > 0) {
    for (const combo of combinations(axes, mode!)) {
      const body = cloneBody(base);
      const parts: string[] = [];
      for (const [axis, i] of combo) {
        const value = axis.values.elements[i]!;
        // Validated above: this cannot fail, so its reporter is a scratch one.
        setPath(body, axis.path, { kind: 'expr', expr: value, file, pathSpan: pathSpan(axis.path) }, modelSchema, new Reporter([]), { unknownCode: 'PST260' });
        parts.push(`${pathText(axis.path)}=${ctx.text(value.span)}`);
      }
      const name = `${decl.name.name}[${parts.join(',')}]`;
      out.push({ name, config: ctx.elaborate(name, decl.name.span, body) });
    }
  }
  const names = new Map<string, Span>();
  for (const v of variants) {
    const first = names.get(v.name.name);
    if (first) {
      r.error('PST210', v.name.span, `variant \`${v.name.name}\` is declared twice: already declared at line ${first.startLine}`);
      continue;
    }
    names.set(v.name.name, v.name.span);
    const body = cloneBody(base);
    const own = r.fresh();
    applyMembers(body, v.body, modelSchema, file, own, { unknownCode: 'PST260' });
    const name = `${decl.name.name}.${v.name.name}`;
    out.push({ name, config: own.failed ? undefined : ctx.elaborate(name, v.name.span, body) });
  }
  return out;
}

function readMode(ref: SweepRef, ctx: SweepContext): 'grid' | 'list' | undefined {
  let mode: 'grid' | 'list' = 'grid';
  let ok = true;
  for (const m of ref.decl.body) {
    if (m.kind !== 'property') continue;
    const name = m.path.length === 1 && m.path[0]!.kind === 'ident' ? m.path[0]!.name : pathText(m.path);
    if (name !== 'mode') {
      ctx.r.error('PST212', m.path[0]!.span, `unknown sweep property \`${name}\``, {
        expected: '`mode = grid | list`, `axis path = [values]` or `variant name { … }`',
        hint: modelSchema.props.includes(name.split('.')[0]!) || name.includes('.')
          ? `a sweep changes the model through \`axis ${name} = [ … ]\` or \`variant v { ${name} = … }\``
          : undefined,
      });
      ok = false;
      continue;
    }
    const w = readWord(ctx.ev.evaluate(m.value, ref.file, ctx.r), ['grid', 'list'], ctx.r);
    if (w) mode = w;
    else ok = false;
  }
  return ok ? mode : undefined;
}

/** Index tuples: every combination (grid) or the i-th value of each axis (list). */
function combinations(axes: AxisDecl[], mode: 'grid' | 'list'): [AxisDecl, number][][] {
  if (mode === 'list') {
    return axes[0]!.values.elements.map((_, i) => axes.map((a) => [a, i] as [AxisDecl, number]));
  }
  let combos: [AxisDecl, number][][] = [[]];
  for (const axis of axes) {
    combos = combos.flatMap((c) => axis.values.elements.map((_, i) => [...c, [axis, i] as [AxisDecl, number]]));
  }
  return combos;
}
