// Index expressions → WGSL (i32 arithmetic). WGSL's `/` and `%` truncate toward zero, so floor
// division and the non-negative remainder need a correction wherever the operand may be negative.
// Passing the shape the variables index (0 ≤ names[i] < shape[i]) lets the emitter drop provably
// needless corrections.
import { c, exprRange, mul, shapeBounds, type ICond, type IExpr, type Interval } from '../../src/ir/indexmap.js';

export function exprToWGSL(e: IExpr, names: string[], shape?: readonly number[]): string {
  return new WgslEmitter(names, shape).expr(e);
}

export function condToWGSL(cnd: ICond, names: string[], shape?: readonly number[]): string {
  return new WgslEmitter(names, shape).cond(cnd);
}

class WgslEmitter {
  private readonly bounds: Interval[] | undefined;
  constructor(
    private readonly names: readonly string[],
    shape: readonly number[] | undefined,
  ) {
    this.bounds = shape ? shapeBounds(shape) : undefined;
  }

  private nonNegative(e: IExpr): boolean {
    return this.bounds !== undefined && exprRange(e, this.bounds).lo >= 0;
  }

  expr(e: IExpr): string {
    switch (e.k) {
      case 'var': {
        const n = this.names[e.i];
        if (n === undefined) throw new Error(`internal: no WGSL name for variable i${e.i}`);
        return n;
      }
      case 'const':
        return e.v < 0 ? `(${e.v})` : String(e.v);
      case 'add':
        if (e.b.k === 'mul' && e.b.c < 0) return `(${this.expr(e.a)} - ${this.expr(mul(e.b.a, -e.b.c))})`;
        if (e.b.k === 'const' && e.b.v < 0) return `(${this.expr(e.a)} - ${-e.b.v})`;
        return `(${this.expr(e.a)} + ${this.expr(e.b)})`;
      case 'mul':
        return e.c === -1 ? `(-${this.expr(e.a)})` : `(${this.expr(e.a)} * ${this.expr(c(e.c))})`;
      case 'div': {
        const a = this.expr(e.a);
        if (this.nonNegative(e.a)) return `(${a} / ${e.c})`;
        // floor(a / k) = trunc((a − (k − 1)) / k) for a < 0
        return `((${a} - select(0, ${e.c - 1}, ${a} < 0)) / ${e.c})`;
      }
      case 'mod': {
        const a = this.expr(e.a);
        if (this.nonNegative(e.a)) return `(${a} % ${e.c})`;
        return `(((${a} % ${e.c}) + ${e.c}) % ${e.c})`;
      }
      case 'select':
        return `select(${this.expr(e.else)}, ${this.expr(e.then)}, ${this.cond(e.cond)})`;
    }
  }

  cond(cnd: ICond): string {
    switch (cnd.k) {
      case 'true':
      case 'false':
        return cnd.k;
      case 'lt':
        return `(${this.expr(cnd.a)} < ${this.expr(cnd.b)})`;
      case 'le':
        return `(${this.expr(cnd.a)} <= ${this.expr(cnd.b)})`;
      case 'eq':
        return `(${this.expr(cnd.a)} == ${this.expr(cnd.b)})`;
      case 'and':
        return `(${this.cond(cnd.a)} && ${this.cond(cnd.b)})`;
      case 'or':
        return `(${this.cond(cnd.a)} || ${this.cond(cnd.b)})`;
      case 'not':
        return `(!${this.cond(cnd.a)})`;
    }
  }
}
