// The .pst abstract syntax tree. Built from chevrotain's CST by src/lang/parse.ts; read by the
// resolver/checker (src/lang/elaborate.ts) and the formatter (src/lang/format.ts). Every node has
// the span of the text it came from. Comments are kept (Program.comments) for the formatter.
import type { Span } from './span.js';

export interface Ident {
  kind: 'ident';
  name: string;
  span: Span;
}

// ---------------------------------------------------------------- expressions
export type Expr =
  | NumberLit
  | BoolLit
  | StringLit
  | NameRef
  | UnaryExpr
  | BinaryExpr
  | ParenExpr
  | TupleExpr
  | ListExpr
  | CallExpr;

export interface NumberLit {
  kind: 'number';
  value: number;
  /** As written (`1e-5`, `0.25`), so the formatter never changes a literal. */
  raw: string;
  isInt: boolean;
  span: Span;
}
export interface BoolLit {
  kind: 'bool';
  value: boolean;
  span: Span;
}
export interface StringLit {
  kind: 'string';
  value: string;
  span: Span;
}
/** A name: a constant, a declared shift, an enum word (`cyclic`, `window2d`, `none`, …). */
export interface NameRef {
  kind: 'name';
  name: string;
  span: Span;
}
export interface UnaryExpr {
  kind: 'unary';
  op: '-' | '+';
  operand: Expr;
  span: Span;
}
export interface BinaryExpr {
  kind: 'binary';
  op: '+' | '-' | '*' | '/';
  left: Expr;
  right: Expr;
  span: Span;
}
export interface ParenExpr {
  kind: 'paren';
  inner: Expr;
  span: Span;
}
/** `(a, b, c)`: two or more elements. */
export interface TupleExpr {
  kind: 'tuple';
  elements: Expr[];
  span: Span;
}
/** `[a, b]` */
export interface ListExpr {
  kind: 'list';
  elements: Expr[];
  span: Span;
}
/** `alternate(tcs, tps)`, `all(tps)` */
export interface CallExpr {
  kind: 'call';
  callee: Ident;
  args: Expr[];
  span: Span;
}

// ---------------------------------------------------------------- bodies
/** A segment of a property path: a name, or a stage number (`stage.3.depth`). */
export type PathSegment = Ident | { kind: 'index'; value: number; span: Span };

/** `path = value`, where path is `name` or `a.b.c`. */
export interface Property {
  kind: 'property';
  path: PathSegment[];
  value: Expr;
  span: Span;
}

/** `name { … }` or `name N { … }` (e.g. `embed { … }`, `stage 2 { … }`, `head { … }`). */
export interface Section {
  kind: 'section';
  name: Ident;
  index?: { value: number; span: Span };
  body: Member[];
  span: Span;
}

/** `grid { rows }` inside a patch_shift: each source line is one row of signed integers. */
export interface GridBlock {
  kind: 'grid';
  rows: GridCell[][];
  span: Span;
}
export interface GridCell {
  value: number;
  /** As written, sign included (`+1`, `-4`, `0`). */
  raw: string;
  span: Span;
}

export type Member = Property | Section | GridBlock;

// ---------------------------------------------------------------- declarations
export interface ImportDecl {
  kind: 'import';
  path: StringLit;
  span: Span;
}
export interface ConstDecl {
  kind: 'const';
  name: Ident;
  value: Expr;
  span: Span;
}
/** `patch_shift name { … }` or `channel_shift name { … }` */
export interface ShiftDecl {
  kind: 'shift';
  shiftKind: 'patch' | 'channel';
  name: Ident;
  body: Member[];
  span: Span;
}
export interface ModelDecl {
  kind: 'model';
  name: Ident;
  base?: Ident;
  body: Member[];
  span: Span;
}
/** `axis path = [v1, v2, …]` */
export interface AxisDecl {
  kind: 'axis';
  path: PathSegment[];
  values: ListExpr;
  span: Span;
}
/** `variant name { overrides }` */
export interface VariantDecl {
  kind: 'variant';
  name: Ident;
  body: Member[];
  span: Span;
}
export type SweepMember = AxisDecl | VariantDecl | Property;
export interface SweepDecl {
  kind: 'sweep';
  name: Ident;
  base: Ident;
  body: SweepMember[];
  span: Span;
}

export type Decl = ImportDecl | ConstDecl | ShiftDecl | ModelDecl | SweepDecl;

export interface Comment {
  /** Text including the leading `//`. */
  text: string;
  span: Span;
}

export interface Program {
  kind: 'program';
  file: string;
  decls: Decl[];
  comments: Comment[];
  span: Span;
}
