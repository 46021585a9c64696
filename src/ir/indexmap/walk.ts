// Generic traversal of index expressions and conditions: the walks that treat every node kind
// alike (substitution, variable sets, operation counts, …) are written once here instead of as a
// switch over all fifteen kinds each. Walks that give each kind its own meaning (evaluation,
// intervals, printing, the simplifier) keep their switch.
import { add, and, div, eq, le, lt, mod, mul, not, or, select, type ICond, type IExpr } from './expr.js';

/** An expression or a condition: their kinds are disjoint, so `k` tells them apart. */
export type INode = IExpr | ICond;

/** The direct subexpressions and subconditions of a node, in source order. */
export function children(n: INode): INode[] {
  switch (n.k) {
    case 'var':
    case 'const':
    case 'true':
    case 'false':
      return [];
    case 'mul':
    case 'div':
    case 'mod':
    case 'not':
      return [n.a];
    case 'add':
    case 'lt':
    case 'le':
    case 'eq':
    case 'and':
    case 'or':
      return [n.a, n.b];
    case 'select':
      return [n.cond, n.then, n.else];
  }
}

/** How to rebuild a child of each sort. */
export interface ChildMap {
  expr(e: IExpr): IExpr;
  cond(c: ICond): ICond;
}

/**
 * The node with each child replaced by f's image, rebuilt through the smart constructors (so
 * constants fold again); leaves are returned as they are.
 */
export function mapChildren(e: IExpr, f: ChildMap): IExpr;
export function mapChildren(c: ICond, f: ChildMap): ICond;
export function mapChildren(n: INode, f: ChildMap): INode {
  switch (n.k) {
    case 'var':
    case 'const':
    case 'true':
    case 'false':
      return n;
    case 'add':
      return add(f.expr(n.a), f.expr(n.b));
    case 'mul':
      return mul(f.expr(n.a), n.c);
    case 'div':
      return div(f.expr(n.a), n.c);
    case 'mod':
      return mod(f.expr(n.a), n.c);
    case 'select':
      return select(f.cond(n.cond), f.expr(n.then), f.expr(n.else));
    case 'lt':
      return lt(f.expr(n.a), f.expr(n.b));
    case 'le':
      return le(f.expr(n.a), f.expr(n.b));
    case 'eq':
      return eq(f.expr(n.a), f.expr(n.b));
    case 'and':
      return and(f.cond(n.a), f.cond(n.b));
    case 'or':
      return or(f.cond(n.a), f.cond(n.b));
    case 'not':
      return not(f.cond(n.a));
  }
}

/** Whether `test` holds at n or at any node below it. */
export function someNode(n: INode, test: (x: INode) => boolean): boolean {
  return test(n) || children(n).some((x) => someNode(x, test));
}

/** Whether output variable i occurs in n. */
export function usesVar(n: INode, i: number): boolean {
  return someNode(n, (x) => x.k === 'var' && x.i === i);
}

/** The output variables that occur in n. */
export function varsOf(n: INode, out = new Set<number>()): Set<number> {
  if (n.k === 'var') out.add(n.i);
  for (const x of children(n)) varsOf(x, out);
  return out;
}

/** Operations in n: every node but a variable, a constant, true and false. */
export function nodeOps(n: INode): number {
  const kids = children(n);
  if (kids.length === 0) return 0;
  return kids.reduce((total, x) => total + nodeOps(x), 1);
}
