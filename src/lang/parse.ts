// .pst text → AST. Lexes and parses with the chevrotain grammar (grammar/), turns every lexer and
// parser error into a Diagnostic, and builds the AST from the CST. The parser recovers from errors,
// so the Program may be partial: a node whose essential parts are missing is left out rather than
// invented (its error has been reported).
import type { CstElement, CstNode, IRecognitionException, IToken, ILexingError } from 'chevrotain';
import type { TokenType } from 'chevrotain';
import * as T from '../../grammar/lexer.js';
import { pstLexer, UnterminatedString, Integer, Semicolon, Plus, Minus, Float, Comma } from '../../grammar/lexer.js';
import { pstParser } from '../../grammar/parser.js';
import type * as A from './ast.js';
import { sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { spanUnion, type Span } from './span.js';

export interface ParseResult {
  program: A.Program;
  diagnostics: Diagnostic[];
}

/** Brackets and prefix signs nested deeper than this are refused before parsing: the parser and
 *  every later phase recurse on nesting, and no model needs more than a few levels. */
export const MAX_NESTING = 64;
/** An expression whose tree is deeper than this (e.g. a sum of 300 terms) is refused. */
export const MAX_EXPRESSION_DEPTH = 256;
/** Syntax errors shown per file: a file that is not .pst at all should not be echoed whole. */
export const MAX_SYNTAX_ERRORS = 20;

export function parseProgram(text: string, file: string): ParseResult {
  const lexed = pstLexer.tokenize(text);
  const builder = new AstBuilder(text, file);
  for (const e of lexed.errors) builder.lexError(e);
  for (const t of lexed.tokens) {
    if (t.tokenType === UnterminatedString) {
      builder.error('PST102', 'unterminated string', builder.tokenSpan(t), 'a closing `"` on the same line');
    }
  }
  const tooDeep = nestingTooDeep(lexed.tokens);
  if (tooDeep) {
    builder.error('PST104', `nesting deeper than ${MAX_NESTING} levels`, builder.tokenSpan(tooDeep), `at most ${MAX_NESTING} nested brackets and signs`);
    const program: A.Program = { kind: 'program', file, decls: [], comments: [], span: builder.spanOf(0, text.length) };
    return { program, diagnostics: capSyntaxErrors(sortDiagnostics(builder.diagnostics)) };
  }
  pstParser.input = lexed.tokens;
  const cst = pstParser.program();
  for (const e of pstParser.errors) builder.parseError(e);

  const comments: A.Comment[] = (lexed.groups['comments'] ?? []).map((t) => {
    const text = t.image.trimEnd();
    const span = builder.tokenSpan(t);
    return { text, span: { ...span, endCol: span.startCol + text.length, endOffset: span.startOffset + text.length } };
  });
  const program: A.Program = {
    kind: 'program',
    file,
    decls: builder.program(cst),
    comments,
    span: builder.spanOf(0, text.length),
  };
  return { program, diagnostics: capSyntaxErrors(sortDiagnostics(builder.diagnostics)) };
}

const OPENING = new Set<TokenType>([T.LParen, T.LBracket, T.LCurly]);
const CLOSING = new Set<TokenType>([T.RParen, T.RBracket, T.RCurly]);
/** After these a `+` or `-` is a sign (prefix), not an operator. */
const BEFORE_PREFIX = new Set<TokenType>([T.Plus, T.Minus, T.Star, T.Slash, T.Equals, T.Comma, T.LParen, T.LBracket, T.LCurly]);

/**
 * The token at which brackets and prefix signs nest deeper than MAX_NESTING, if any. Checked on
 * the tokens, without recursion, so that `((((…` 300 deep or `- - - … 1` is a diagnostic rather
 * than a stack overflow in the parser.
 */
function nestingTooDeep(tokens: readonly IToken[]): IToken | undefined {
  const levels: number[] = [];
  let signs = 0;
  let previous: TokenType | undefined;
  for (const t of tokens) {
    const base = levels[levels.length - 1] ?? 0;
    if (OPENING.has(t.tokenType)) {
      const level = base + signs + 1;
      if (level > MAX_NESTING) return t;
      levels.push(level);
      signs = 0;
    } else if (CLOSING.has(t.tokenType)) {
      levels.pop();
      signs = 0;
    } else if ((t.tokenType === T.Plus || t.tokenType === T.Minus) && (previous === undefined || BEFORE_PREFIX.has(previous))) {
      signs++;
      if (base + signs > MAX_NESTING) return t;
    } else {
      signs = 0;
    }
    previous = t.tokenType;
  }
  return undefined;
}

/** The first MAX_SYNTAX_ERRORS syntax errors of a file, then a note saying how many more. */
function capSyntaxErrors(ds: Diagnostic[]): Diagnostic[] {
  if (ds.length <= MAX_SYNTAX_ERRORS) return ds;
  const more = ds.length - MAX_SYNTAX_ERRORS;
  const next = ds[MAX_SYNTAX_ERRORS]!;
  return [
    ...ds.slice(0, MAX_SYNTAX_ERRORS),
    {
      code: next.code,
      severity: 'note',
      message: `${more} more syntax error${more === 1 ? '' : 's'} in this file not shown`,
      ...(next.span ? { span: { ...next.span, endLine: next.span.startLine, endCol: next.span.startCol + 1, endOffset: next.span.startOffset + 1 } } : {}),
      hint: 'is this a .pst file?',
    },
  ];
}

// ---------------------------------------------------------------- CST access
const isToken = (e: CstElement): e is IToken => 'image' in e;

/** Tokens under `key`, without the ones chevrotain invented while recovering (they have no position). */
function toks(node: CstNode | undefined, key: string): IToken[] {
  const elements = node?.children[key] ?? [];
  return elements.filter((e): e is IToken => isToken(e) && !e.isInsertedInRecovery && !Number.isNaN(e.startOffset));
}
const tok = (node: CstNode | undefined, key: string): IToken | undefined => toks(node, key)[0];
function nodes(node: CstNode | undefined, key: string): CstNode[] {
  return (node?.children[key] ?? []).filter((e): e is CstNode => !isToken(e));
}
const child = (node: CstNode | undefined, key: string): CstNode | undefined => nodes(node, key)[0];

/** The union of the spans that exist; undefined when none does. */
function cover(...parts: (Span | undefined)[]): Span | undefined {
  let result: Span | undefined;
  for (const p of parts) if (p) result = result ? spanUnion(result, p) : p;
  return result;
}

const present = <T>(x: T | undefined): x is T => x !== undefined;

// ---------------------------------------------------------------- CST → AST
class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];
  private readonly reported = new Set<string>();
  private lineStarts: number[] | undefined;
  /** Depth of each expression built, for MAX_EXPRESSION_DEPTH. */
  private readonly depths = new WeakMap<A.Expr, number>();

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  // ---------------------------------------------------------------- positions and errors
  tokenSpan(t: IToken): Span {
    return {
      file: this.file,
      startLine: t.startLine ?? 1,
      startCol: t.startColumn ?? 1,
      endLine: t.endLine ?? t.startLine ?? 1,
      endCol: (t.endColumn ?? t.startColumn ?? 0) + 1,
      startOffset: t.startOffset,
      endOffset: (t.endOffset ?? t.startOffset) + 1,
    };
  }

  spanOf(start: number, end: number): Span {
    const a = this.position(start);
    const b = this.position(end);
    return { file: this.file, startLine: a.line, startCol: a.col, endLine: b.line, endCol: b.col, startOffset: start, endOffset: end };
  }

  private position(offset: number): { line: number; col: number } {
    if (!this.lineStarts) {
      this.lineStarts = [0];
      for (let i = 0; i < this.text.length; i++) {
        const c = this.text[i];
        if (c === '\n' || (c === '\r' && this.text[i + 1] !== '\n')) this.lineStarts.push(i + 1);
      }
    }
    // Binary search for the last line start ≤ offset (a linear scan would be quadratic in errors).
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.lineStarts[lo]! + 1 };
  }

  error(code: string, message: string, span: Span, expected?: string): void {
    const key = `${code}@${span.startOffset}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.diagnostics.push({ code, severity: 'error', message, span, ...(expected ? { expected } : {}) });
  }

  lexError(e: ILexingError): void {
    const bad = this.text.slice(e.offset, e.offset + Math.min(e.length, 40));
    const what = e.length === 1 || [...this.text.slice(e.offset, e.offset + e.length)].length === 1 ? 'character' : 'characters';
    const shown = e.length > 40 ? `${bad}…` : bad;
    this.error('PST102', `unexpected ${what} \`${shown}\``, this.spanOf(e.offset, e.offset + e.length));
  }

  /** chevrotain's message is what was expected, in words (see grammar/parser.ts). */
  parseError(e: IRecognitionException): void {
    const t = e.token;
    if (Number.isNaN(t.startOffset) || t.tokenType?.name === 'EOF') {
      const end = this.text.length;
      this.error('PST101', 'unexpected end of file', this.spanOf(end, end), e.message);
      return;
    }
    const image = t.image.length > 24 ? `${t.image.slice(0, 24)}…` : t.image;
    this.error('PST101', `unexpected \`${image}\``, this.tokenSpan(t), e.message);
  }

  private ident(t: IToken | undefined): A.Ident | undefined {
    return t && { kind: 'ident', name: t.image, span: this.tokenSpan(t) };
  }

  // ---------------------------------------------------------------- declarations
  program(cst: CstNode): A.Decl[] {
    return nodes(cst, 'decl').map((d) => this.decl(d)).filter(present);
  }

  private decl(node: CstNode): A.Decl | undefined {
    const [inner] = Object.values(node.children).flat() as CstNode[];
    if (!inner || isToken(inner)) return undefined;
    switch (inner.name) {
      case 'importDecl':
        return this.importDecl(inner);
      case 'constDecl':
        return this.constDecl(inner);
      case 'shiftDecl':
        return this.shiftDecl(inner);
      case 'modelDecl':
        return this.modelDecl(inner);
      case 'sweepDecl':
        return this.sweepDecl(inner);
      default:
        return undefined;
    }
  }

  private importDecl(node: CstNode): A.ImportDecl | undefined {
    const keyword = tok(node, 'ImportKw');
    const str = tok(node, 'StringLiteral');
    if (!keyword || !str) return undefined;
    const path = this.stringLit(str);
    return { kind: 'import', path, span: spanUnion(this.tokenSpan(keyword), path.span) };
  }

  private constDecl(node: CstNode): A.ConstDecl | undefined {
    const keyword = tok(node, 'ConstKw');
    const name = this.ident(tok(node, 'name'));
    const value = this.expression(child(node, 'expression'));
    if (!keyword || !name || !value) return undefined;
    return { kind: 'const', name, value, span: spanUnion(this.tokenSpan(keyword), value.span) };
  }

  private shiftDecl(node: CstNode): A.ShiftDecl | undefined {
    const keyword = tok(node, 'keyword');
    const name = this.ident(tok(node, 'name'));
    const block = this.block(child(node, 'block'));
    if (!keyword || !name || !block) return undefined;
    const shiftKind = keyword.image === 'patch_shift' ? 'patch' : 'channel';
    return { kind: 'shift', shiftKind, name, body: block.members, span: spanUnion(this.tokenSpan(keyword), block.span) };
  }

  private modelDecl(node: CstNode): A.ModelDecl | undefined {
    const keyword = tok(node, 'ModelKw');
    const name = this.ident(tok(node, 'name'));
    const base = this.ident(tok(node, 'base'));
    const block = this.block(child(node, 'block'));
    if (!keyword || !name || !block) return undefined;
    const span = spanUnion(this.tokenSpan(keyword), block.span);
    return base ? { kind: 'model', name, base, body: block.members, span } : { kind: 'model', name, body: block.members, span };
  }

  private sweepDecl(node: CstNode): A.SweepDecl | undefined {
    const keyword = tok(node, 'SweepKw');
    const name = this.ident(tok(node, 'name'));
    const base = this.ident(tok(node, 'base'));
    const blockNode = child(node, 'sweepBlock');
    const span = this.bracesSpan(blockNode);
    if (!keyword || !name || !base || !blockNode || !span) return undefined;
    const body = nodes(blockNode, 'sweepMember').map((m) => this.sweepMember(m)).filter(present);
    return { kind: 'sweep', name, base, body, span: spanUnion(this.tokenSpan(keyword), cover(span, ...body.map((m) => m.span))!) };
  }

  // ---------------------------------------------------------------- bodies
  /** `{ … }`: its members and its span (to the last member when the `}` is missing). */
  private block(node: CstNode | undefined): { members: A.Member[]; span: Span } | undefined {
    const braces = this.bracesSpan(node);
    if (!node || !braces) return undefined;
    const members = nodes(node, 'member').map((m) => this.member(m)).filter(present);
    return { members, span: cover(braces, ...members.map((m) => m.span))! };
  }

  private bracesSpan(node: CstNode | undefined): Span | undefined {
    const open = tok(node, 'LCurly');
    const close = tok(node, 'RCurly');
    return cover(open && this.tokenSpan(open), close && this.tokenSpan(close));
  }

  private member(node: CstNode): A.Member | undefined {
    const grid = child(node, 'gridBlock');
    if (grid) return this.grid(grid);
    const inner = child(node, 'propertyOrSection');
    return inner && this.propertyOrSection(inner);
  }

  private propertyOrSection(node: CstNode): A.Property | A.Section | undefined {
    const name = this.ident(tok(node, 'name'));
    if (!name) return undefined;
    if (tok(node, 'Equals') || child(node, 'expression')) {
      const path = [name, ...this.pathTail(child(node, 'pathTail'))];
      return this.property(path, child(node, 'expression'));
    }
    const block = this.block(child(node, 'block'));
    if (!block) return undefined;
    const indexToken = tok(node, 'index');
    const span = spanUnion(name.span, block.span);
    if (!indexToken) return { kind: 'section', name, body: block.members, span };
    const index = { value: Number(indexToken.image), span: this.tokenSpan(indexToken) };
    return { kind: 'section', name, index, body: block.members, span };
  }

  private property(path: A.PathSegment[], valueNode: CstNode | undefined): A.Property | undefined {
    const value = this.expression(valueNode);
    if (!value || path.length === 0) return undefined;
    return { kind: 'property', path, value, span: spanUnion(path[0]!.span, value.span) };
  }

  private path(node: CstNode | undefined): A.PathSegment[] {
    const name = this.ident(tok(node, 'name'));
    return name ? [name, ...this.pathTail(child(node, 'pathTail'))] : [];
  }

  private pathTail(node: CstNode | undefined): A.PathSegment[] {
    return toks(node, 'segment').map((t): A.PathSegment =>
      t.tokenType === Integer
        ? { kind: 'index', value: Number(t.image), span: this.tokenSpan(t) }
        : { kind: 'ident', name: t.image, span: this.tokenSpan(t) },
    );
  }

  /** Rows are source lines (or end at `;`); a cell is an integer with an optional sign touching it. */
  private grid(node: CstNode): A.GridBlock | undefined {
    const keyword = tok(node, 'GridKw');
    const braces = this.bracesSpan(node);
    if (!keyword || !braces) return undefined;
    const cells = toks(node, 'cell');
    const rows: A.GridCell[][] = [];
    let row: A.GridCell[] = [];
    let rowLine = -1;
    const endRow = () => {
      if (row.length > 0) rows.push(row);
      row = [];
    };
    for (let i = 0; i < cells.length; i++) {
      const t = cells[i]!;
      if (t.startLine !== rowLine) endRow();
      rowLine = t.startLine ?? rowLine;
      if (t.tokenType === Semicolon) {
        endRow();
        continue;
      }
      if (t.tokenType === Integer) {
        row.push({ value: Number(t.image), raw: t.image, span: this.tokenSpan(t) });
        continue;
      }
      const next = cells[i + 1];
      const isSign = t.tokenType === Plus || t.tokenType === Minus;
      if (isSign && next?.tokenType === Integer && next.startOffset === t.startOffset + 1) {
        const value = (t.tokenType === Minus ? -1 : 1) * Number(next.image);
        row.push({ value, raw: t.image + next.image, span: spanUnion(this.tokenSpan(t), this.tokenSpan(next)) });
        i++;
        continue;
      }
      this.error('PST103', badCellMessage(t, isSign), this.tokenSpan(t), 'a signed integer such as `-4`, `+1` or `0`');
    }
    endRow();
    return { kind: 'grid', rows, span: spanUnion(this.tokenSpan(keyword), braces) };
  }

  private sweepMember(node: CstNode): A.SweepMember | undefined {
    const axis = child(node, 'axisDecl');
    if (axis) {
      const keyword = tok(axis, 'AxisKw');
      const path = this.path(child(axis, 'path'));
      const values = this.list(child(axis, 'list'));
      if (!keyword || path.length === 0 || !values) return undefined;
      return { kind: 'axis', path, values, span: spanUnion(this.tokenSpan(keyword), values.span) };
    }
    const variant = child(node, 'variantDecl');
    if (variant) {
      const keyword = tok(variant, 'VariantKw');
      const name = this.ident(tok(variant, 'name'));
      const block = this.block(child(variant, 'block'));
      if (!keyword || !name || !block) return undefined;
      return { kind: 'variant', name, body: block.members, span: spanUnion(this.tokenSpan(keyword), block.span) };
    }
    const property = child(node, 'property');
    return property && this.property(this.path(child(property, 'path')), child(property, 'expression'));
  }

  // ---------------------------------------------------------------- expressions
  private expression(node: CstNode | undefined): A.Expr | undefined {
    const expr = this.binaryChain(node, (n) => this.term(n));
    if (expr && this.depth(expr) > MAX_EXPRESSION_DEPTH) {
      this.error('PST104', `expression nested deeper than ${MAX_EXPRESSION_DEPTH} levels`, expr.span, 'a shorter expression; split it with constants');
      return undefined;
    }
    return expr;
  }

  /** Depth of an expression tree, without recursion (the tree may be deep: that is what is
   *  checked). Sub-expressions checked before, such as bracketed ones, are remembered. */
  private depth(root: A.Expr): number {
    const stack: { expr: A.Expr; visited: boolean }[] = [{ expr: root, visited: false }];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (this.depths.has(top.expr)) {
        stack.pop();
        continue;
      }
      const kids = children(top.expr);
      if (!top.visited) {
        top.visited = true;
        for (const k of kids) if (!this.depths.has(k)) stack.push({ expr: k, visited: false });
        continue;
      }
      stack.pop();
      let d = 0;
      for (const k of kids) d = Math.max(d, this.depths.get(k) ?? 0);
      this.depths.set(top.expr, d + 1);
    }
    return this.depths.get(root)!;
  }

  private term(node: CstNode | undefined): A.Expr | undefined {
    return this.binaryChain(node, (n) => this.unary(n));
  }

  /** `a op b op c`, left-associative; undefined when an operand is missing. */
  private binaryChain(node: CstNode | undefined, operand: (n: CstNode) => A.Expr | undefined): A.Expr | undefined {
    const operands = nodes(node, 'operand');
    const ops = toks(node, 'op');
    if (operands.length === 0 || operands.length !== ops.length + 1) return undefined;
    let result = operand(operands[0]!);
    for (let i = 0; i < ops.length && result; i++) {
      const right = operand(operands[i + 1]!);
      if (!right) return undefined;
      const op = ops[i]!.image as A.BinaryExpr['op'];
      result = { kind: 'binary', op, left: result, right, span: spanUnion(result.span, right.span) };
    }
    return result;
  }

  private unary(node: CstNode): A.Expr | undefined {
    const op = tok(node, 'op');
    if (op) {
      const operand = child(node, 'operand');
      const inner = operand && this.unary(operand);
      if (!inner) return undefined;
      return { kind: 'unary', op: op.image as '+' | '-', operand: inner, span: spanUnion(this.tokenSpan(op), inner.span) };
    }
    const primary = child(node, 'primary');
    return primary && this.primary(primary);
  }

  private primary(node: CstNode): A.Expr | undefined {
    const number = tok(node, 'Integer') ?? tok(node, 'Float');
    if (number) {
      const isInt = number.tokenType === Integer;
      return { kind: 'number', value: Number(number.image), raw: number.image, isInt, span: this.tokenSpan(number) };
    }
    const bool = tok(node, 'TrueKw') ?? tok(node, 'FalseKw');
    if (bool) return { kind: 'bool', value: bool.image === 'true', span: this.tokenSpan(bool) };
    const str = tok(node, 'StringLiteral');
    if (str) return this.stringLit(str);
    const call = child(node, 'nameOrCall');
    if (call) return this.nameOrCall(call);
    const paren = child(node, 'parenOrTuple');
    if (paren) return this.parenOrTuple(paren);
    return this.list(child(node, 'list'));
  }

  private nameOrCall(node: CstNode): A.Expr | undefined {
    const callee = this.ident(tok(node, 'name'));
    if (!callee) return undefined;
    if (!child(node, 'elements') && !tok(node, 'LParen')) return { kind: 'name', name: callee.name, span: callee.span };
    const args = this.elements(child(node, 'elements'));
    const close = tok(node, 'RParen');
    if (!args || !close) return undefined;
    return { kind: 'call', callee, args, span: spanUnion(callee.span, this.tokenSpan(close)) };
  }

  private parenOrTuple(node: CstNode): A.Expr | undefined {
    const open = tok(node, 'LParen');
    const close = tok(node, 'RParen');
    const elements = this.elements(child(node, 'elements'));
    if (!open || !close || !elements || elements.length === 0) return undefined;
    const span = spanUnion(this.tokenSpan(open), this.tokenSpan(close));
    return elements.length === 1 ? { kind: 'paren', inner: elements[0]!, span } : { kind: 'tuple', elements, span };
  }

  private list(node: CstNode | undefined): A.ListExpr | undefined {
    const open = tok(node, 'LBracket');
    const close = tok(node, 'RBracket');
    const elements = this.elements(child(node, 'elements'));
    if (!open || !close || !elements) return undefined;
    return { kind: 'list', elements, span: spanUnion(this.tokenSpan(open), this.tokenSpan(close)) };
  }

  /** Comma-separated expressions; [] when absent, undefined when one is broken. */
  private elements(node: CstNode | undefined): A.Expr[] | undefined {
    const parts = nodes(node, 'element').map((e) => this.expression(e));
    if (node && toks(node, 'Comma').length !== parts.length - 1) return undefined;
    return parts.every(present) ? parts : undefined;
  }

  private stringLit(t: IToken): A.StringLit {
    const terminated = t.tokenType !== UnterminatedString;
    const body = t.image.slice(1, terminated ? -1 : undefined);
    return { kind: 'string', value: body.replace(/\\(.)/g, '$1'), span: this.tokenSpan(t) };
  }
}

function children(expr: A.Expr): readonly A.Expr[] {
  switch (expr.kind) {
    case 'binary':
      return [expr.left, expr.right];
    case 'unary':
      return [expr.operand];
    case 'paren':
      return [expr.inner];
    case 'tuple':
    case 'list':
      return expr.elements;
    case 'call':
      return expr.args;
    default:
      return [];
  }
}

function badCellMessage(t: IToken, isSign: boolean): string {
  if (isSign) return `a sign in a grid must touch its integer (write \`${t.image}1\`, not \`${t.image} 1\`)`;
  if (t.tokenType === Float) return `grid cell \`${t.image}\` is not an integer`;
  if (t.tokenType === Comma) return 'grid cells are separated by spaces, not commas';
  return `\`${t.image}\` is not a grid cell`;
}
