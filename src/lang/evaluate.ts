// Expressions to values: constants are looked up in the scope of the file that wrote the
// expression, arithmetic is done in float64, and names that are not constants stay words for the
// reader that knows what it expects (an enum word, a shift name, …; see values.ts).
import type { ConstDecl, Expr } from './ast.js';
import { closestName } from './diagnostics.js';
import type { Reporter } from './report.js';
import type { DeclRef, Scope } from './scope.js';
import type { Span } from './span.js';

export type Value =
  | { kind: 'number'; value: number; span: Span }
  | { kind: 'bool'; value: boolean; span: Span }
  | { kind: 'string'; value: string; span: Span }
  | { kind: 'tuple' | 'list'; elements: Value[]; span: Span }
  | { kind: 'call'; callee: string; calleeSpan: Span; args: Value[]; span: Span }
  /** A name that is not a constant: `decl` is what it names in scope, if anything. */
  | { kind: 'word'; name: string; decl?: DeclRef; scope: Scope; span: Span }
  /** A value that failed earlier and was reported there. */
  | { kind: 'poison'; span: Span };

/** A number as a message shows it: beyond 2^53 an integer's digits are not the ones written
 *  (2^60 would print as 1152921504606847000), so large magnitudes use exponent notation. */
export function numberText(x: number): string {
  return Math.abs(x) > Number.MAX_SAFE_INTEGER ? x.toExponential() : String(x);
}

/** The value in words, for "expected …, got …". */
export function describe(v: Value): string {
  switch (v.kind) {
    case 'number':
      return numberText(v.value);
    case 'bool':
      return String(v.value);
    case 'string':
      return `the string "${v.value}"`;
    case 'tuple':
      return `a tuple of ${v.elements.length}`;
    case 'list':
      return `a list of ${v.elements.length}`;
    case 'call':
      return `${v.callee}(…)`;
    case 'word':
      return v.decl ? `\`${v.name}\` (a ${kindOf(v.decl)})` : `\`${v.name}\``;
    case 'poison':
      return 'an invalid value';
  }
}

function kindOf(ref: DeclRef): string {
  const d = ref.decl;
  if (d.kind === 'shift') return d.shiftKind === 'patch' ? 'patch_shift' : 'channel_shift';
  return d.kind === 'const' ? 'constant' : d.kind;
}

// Scopes do not change once built: their constant names are listed once, not per unknown name.
const constNamesOf = new WeakMap<Scope, string[]>();

export function constNames(scope: Scope): string[] {
  let names = constNamesOf.get(scope);
  if (!names) {
    names = [...scope].filter(([, r]) => r.decl.kind === 'const').map(([n]) => n);
    constNamesOf.set(scope, names);
  }
  return names;
}

/** Constants referring to constants, with the expressions between them, may nest this deep: the
 *  evaluation recurses, and a 5,000-long chain `const a1 = a2 …` must be a diagnostic, not a
 *  stack overflow. */
export const MAX_EVALUATION_DEPTH = 1000;

export class Evaluator {
  private readonly consts = new Map<ConstDecl, Value>();
  /** Expressions being evaluated, counting those of the constants they refer to. */
  private depth = 0;
  /** Constants being evaluated, innermost last: a reference to one of them closes a cycle. */
  private readonly busy: ConstDecl[] = [];

  constructor(
    private readonly scopes: ReadonlyMap<string, Scope>,
    /** For constant errors: reported once, at the constant, whoever asks first. */
    private readonly constReporter: () => Reporter,
  ) {}

  scope(file: string): Scope {
    return this.scopes.get(file) ?? new Map();
  }

  /** The value of a constant declaration (evaluated once). */
  constant(ref: DeclRef & { decl: ConstDecl }, useSpan: Span, r: Reporter): Value {
    const done = this.consts.get(ref.decl);
    if (done) return respan(done, useSpan, r);
    if (this.busy.includes(ref.decl)) {
      const chain = [...this.busy.slice(this.busy.indexOf(ref.decl)), ref.decl].map((d) => d.name.name);
      r.error('PST215', useSpan, `constant \`${ref.decl.name.name}\` is defined in terms of itself: ${chain.join(' → ')}`);
      return { kind: 'poison', span: useSpan };
    }
    this.busy.push(ref.decl);
    const own = this.constReporter();
    let value = this.evaluate(ref.decl.value, ref.file, own);
    if (own.failed) value = { kind: 'poison', span: ref.decl.value.span };
    this.busy.pop();
    this.consts.set(ref.decl, value);
    return respan(value, useSpan, r);
  }

  evaluate(expr: Expr, file: string, r: Reporter): Value {
    if (this.depth >= MAX_EVALUATION_DEPTH) {
      r.error('PST216', expr.span, `constants nest more than ${MAX_EVALUATION_DEPTH} levels deep here`, {
        hint: 'a constant defined through a long chain of other constants; write the value directly',
      });
      return { kind: 'poison', span: expr.span };
    }
    this.depth++;
    try {
      return this.evaluateNode(expr, file, r);
    } finally {
      this.depth--;
    }
  }

  private evaluateNode(expr: Expr, file: string, r: Reporter): Value {
    const span = expr.span;
    switch (expr.kind) {
      case 'number':
        return { kind: 'number', value: expr.value, span };
      case 'bool':
        return { kind: 'bool', value: expr.value, span };
      case 'string':
        return { kind: 'string', value: expr.value, span };
      case 'paren':
        return { ...this.evaluate(expr.inner, file, r), span };
      case 'tuple':
      case 'list':
        return { kind: expr.kind, elements: expr.elements.map((e) => this.evaluate(e, file, r)), span };
      case 'call':
        return {
          kind: 'call',
          callee: expr.callee.name,
          calleeSpan: expr.callee.span,
          args: expr.args.map((e) => this.evaluate(e, file, r)),
          span,
        };
      case 'name': {
        const scope = this.scope(file);
        const ref = scope.get(expr.name);
        if (ref && ref.decl.kind === 'const') return this.constant(ref as DeclRef & { decl: ConstDecl }, span, r);
        return { kind: 'word', name: expr.name, decl: ref, scope, span };
      }
      case 'unary': {
        const x = this.number(this.evaluate(expr.operand, file, r), r);
        if (x === undefined) return { kind: 'poison', span };
        return { kind: 'number', value: expr.op === '-' ? -x : x, span };
      }
      case 'binary': {
        const a = this.number(this.evaluate(expr.left, file, r), r);
        const b = this.number(this.evaluate(expr.right, file, r), r);
        if (a === undefined || b === undefined) return { kind: 'poison', span };
        if (expr.op === '/' && b === 0) {
          r.error('PST221', expr.right.span, 'division by zero');
          return { kind: 'poison', span };
        }
        const value = expr.op === '+' ? a + b : expr.op === '-' ? a - b : expr.op === '*' ? a * b : a / b;
        if (!Number.isFinite(value)) {
          r.error('PST221', span, 'the result is too large to represent');
          return { kind: 'poison', span };
        }
        return { kind: 'number', value, span };
      }
    }
  }

  /** An arithmetic operand: a number, or an error (unknown names get a "did you mean"). */
  private number(v: Value, r: Reporter): number | undefined {
    if (v.kind === 'number') return v.value;
    if (v.kind === 'poison') {
      r.poisoned();
      return undefined;
    }
    if (v.kind === 'word' && !v.decl) {
      unknownName(v, constNames(v.scope), r, 'a number or the name of a constant');
      return undefined;
    }
    r.error('PST220', v.span, `expected a number, got ${describe(v)}`, { expected: 'a number' });
    return undefined;
  }
}

export function unknownName(v: Value & { kind: 'word' }, candidates: Iterable<string>, r: Reporter, expected: string): void {
  const close = r.hintsAllowed() ? closestName(v.name, candidates) : undefined;
  r.error('PST211', v.span, `unknown name \`${v.name}\``, {
    expected,
    hint: close ? `did you mean \`${close}\`?` : undefined,
  });
}

// A constant's value seen from where it is used: errors about the whole value point at the use.
function respan(v: Value, span: Span, r: Reporter): Value {
  if (v.kind === 'poison') r.poisoned();
  return { ...v, span };
}
