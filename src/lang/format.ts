// The canonical layout of a .pst file (`pstc fmt`). The layout rules are listed in docs/grammar.md
// ("Formatting"); in short: 2-space indents, one member per line, `=` aligned in runs of
// properties, short sections on one line, grids as right-aligned columns, literals as written,
// every comment kept on the line it annotated, and blank lines kept (at most one) where the
// author put them. The printer walks the AST in source order and takes each comment from a
// cursor when it reaches the comment's position, so no comment can be lost or duplicated.
import type * as A from './ast.js';
import { hasErrors, type Diagnostic } from './diagnostics.js';
import { parseProgram } from './parse.js';

/** A section (or variant) with at most this many properties, no comments and no nested sections
 *  is printed on one line, if that line fits in `maxWidth` columns. */
export const oneLineMaxMembers = 3;
export const maxWidth = 100;
const indentUnit = '  ';

/** Format source text; refuses (formatted undefined) when the file has syntax errors. */
export function formatSource(text: string, file: string): { formatted?: string; diagnostics: Diagnostic[] } {
  const { program, diagnostics } = parseProgram(text, file);
  if (hasErrors(diagnostics)) return { diagnostics };
  return { formatted: formatProgram(program, text), diagnostics };
}

/** The canonical text of a program parsed from `sourceText` without syntax errors. */
export function formatProgram(program: A.Program, sourceText: string): string {
  const printer = new Printer(sourceText, program.comments);
  printer.program(program);
  return printer.finish();
}

interface Line {
  indent: number;
  code: string;
  comment?: string;
  /** Ends with `{`: no blank line may follow it. */
  opens?: boolean;
}

type Item = A.Member | A.SweepMember;

class Printer {
  private readonly lines: (Line | 'blank')[] = [];
  private readonly comments: A.Comment[];
  private nextComment = 0;
  /** Source offset up to which everything has been printed. */
  private printedTo = 0;

  constructor(
    private readonly text: string,
    comments: readonly A.Comment[],
  ) {
    this.comments = [...comments].sort((a, b) => a.span.startOffset - b.span.startOffset);
  }

  // ---------------------------------------------------------------- output and comments
  finish(): string {
    this.ownLineComments(Infinity, 0, true);
    while (this.lines.at(-1) === 'blank') this.lines.pop();
    alignTrailingComments(this.lines);
    const out = this.lines.map((l) =>
      l === 'blank' ? '' : indentUnit.repeat(l.indent) + l.code + (l.comment ? `  ${l.comment}` : ''),
    );
    return out.length ? `${out.join('\n')}\n` : '';
  }

  private blank(): void {
    const last = this.lines.at(-1);
    if (last !== undefined && last !== 'blank' && !last.opens) this.lines.push('blank');
  }

  /** A blank line where the author left one between what was printed and `offset`. */
  private blankIfSourceHad(offset: number): void {
    const gap = this.text.slice(this.printedTo, offset);
    if (/\n[ \t]*\r?\n/.test(gap)) this.blank();
  }

  /** Prints, each on its own line, the comments that start before `offset`. */
  private ownLineComments(offset: number, indent: number, keepBlanks: boolean): void {
    for (let c = this.comments[this.nextComment]; c && c.span.startOffset < offset; c = this.comments[this.nextComment]) {
      if (keepBlanks) this.blankIfSourceHad(c.span.startOffset);
      this.lines.push({ indent, code: c.text });
      this.printedTo = c.span.endOffset;
      this.nextComment++;
    }
  }

  /** Prints a line of code that ends at source offset `end`, with the comment that followed it
   *  on the same source line, if any. */
  private emit(indent: number, code: string, end: number, opens = false): void {
    const line: Line = { indent, code, opens };
    this.lines.push(line);
    this.printedTo = Math.max(this.printedTo, end);
    const c = this.comments[this.nextComment];
    if (c && c.span.startOffset >= end && /^[ \t;]*$/.test(this.text.slice(end, c.span.startOffset))) {
      line.comment = c.text;
      this.printedTo = c.span.endOffset;
      this.nextComment++;
    }
  }

  private hasCommentWithin(start: number, end: number): boolean {
    return this.comments.some((c) => c.span.startOffset > start && c.span.startOffset < end);
  }

  /** The offset of the `{` that opens a body, searching from `from` past spaces and comments. */
  private openBrace(from: number): number {
    let i = from;
    while (i < this.text.length && this.text[i] !== '{') {
      if (this.text.startsWith('//', i)) while (i < this.text.length && this.text[i] !== '\n') i++;
      else i++;
    }
    return i;
  }

  /** `header { body }` over several lines, or `header {}` when there is nothing inside. */
  private block(indent: number, header: string, from: number, end: number, isEmpty: boolean, body: () => void): void {
    const open = this.openBrace(from);
    const close = end - 1;
    this.ownLineComments(open, indent, false);
    if (isEmpty && !this.hasCommentWithin(open, close)) {
      this.emit(indent, `${header} {}`, end);
      return;
    }
    this.emit(indent, `${header} {`, open + 1, true);
    body();
    this.ownLineComments(close, indent + 1, true);
    this.emit(indent, '}', end);
  }

  // ---------------------------------------------------------------- declarations
  program(program: A.Program): void {
    let previous: A.Decl | undefined;
    for (const decl of program.decls) {
      const grouped = previous?.kind === decl.kind && (decl.kind === 'import' || decl.kind === 'const');
      if (previous && !grouped) this.blank();
      this.ownLineComments(decl.span.startOffset, 0, true);
      this.blankIfSourceHad(decl.span.startOffset);
      this.decl(decl);
      previous = decl;
    }
  }

  private decl(decl: A.Decl): void {
    const end = decl.span.endOffset;
    switch (decl.kind) {
      case 'import':
        this.ownLineComments(end, 0, false);
        return this.emit(0, `import ${expr(decl.path)}`, end);
      case 'const':
        this.ownLineComments(end, 0, false);
        return this.emit(0, `const ${decl.name.name} = ${expr(decl.value)}`, end);
      case 'shift': {
        const header = `${decl.shiftKind === 'patch' ? 'patch_shift' : 'channel_shift'} ${decl.name.name}`;
        return this.block(0, header, decl.name.span.endOffset, end, decl.body.length === 0, () => this.members(decl.body, 1));
      }
      case 'model': {
        const header = `model ${decl.name.name}${decl.base ? ` extends ${decl.base.name}` : ''}`;
        const from = (decl.base ?? decl.name).span.endOffset;
        return this.block(0, header, from, end, decl.body.length === 0, () => this.members(decl.body, 1));
      }
      case 'sweep': {
        const header = `sweep ${decl.name.name} from ${decl.base.name}`;
        return this.block(0, header, decl.base.span.endOffset, end, decl.body.length === 0, () => this.members(decl.body, 1));
      }
    }
  }

  // ---------------------------------------------------------------- bodies
  private members(members: readonly Item[], indent: number): void {
    const widths = alignmentWidths(members, this.text);
    members.forEach((m, i) => {
      this.ownLineComments(m.span.startOffset, indent, true);
      this.blankIfSourceHad(m.span.startOffset);
      this.member(m, indent, widths[i]!);
    });
  }

  private member(m: Item, indent: number, width: number): void {
    const end = m.span.endOffset;
    switch (m.kind) {
      case 'property':
        this.ownLineComments(end, indent, false);
        return this.emit(indent, `${pathText(m.path).padEnd(width)} = ${expr(m.value)}`, end);
      case 'axis':
        this.ownLineComments(end, indent, false);
        return this.emit(indent, `axis ${pathText(m.path).padEnd(width)} = ${expr(m.values)}`, end);
      case 'section': {
        const header = m.index ? `${m.name.name} ${m.index.value}` : m.name.name;
        return this.section(indent, header, (m.index ?? m.name).span.endOffset, m);
      }
      case 'variant':
        return this.section(indent, `variant ${m.name.name}`, m.name.span.endOffset, m);
      case 'grid':
        return this.block(indent, 'grid', m.span.startOffset + 'grid'.length, end, m.rows.length === 0, () =>
          this.gridRows(m.rows, indent + 1),
        );
    }
  }

  private section(indent: number, header: string, headerEnd: number, m: A.Section | A.VariantDecl): void {
    const end = m.span.endOffset;
    // Only comments inside the braces keep a section multi-line: one between the header and `{`
    // is printed above the section either way, so the layout does not change on a second run.
    const open = this.openBrace(headerEnd);
    const short =
      m.body.length > 0 &&
      m.body.length <= oneLineMaxMembers &&
      m.body.every((p) => p.kind === 'property') &&
      !this.hasCommentWithin(open, end - 1);
    if (short) {
      const body = (m.body as A.Property[]).map((p) => `${pathText(p.path)} = ${expr(p.value)}`).join('  ');
      const line = `${header} { ${body} }`;
      if (indent * indentUnit.length + line.length <= maxWidth) {
        this.ownLineComments(open, indent, false);
        return this.emit(indent, line, end);
      }
    }
    this.block(indent, header, headerEnd, end, m.body.length === 0, () => this.members(m.body, indent + 1));
  }

  private gridRows(rows: readonly A.GridCell[][], indent: number): void {
    const widths: number[] = [];
    for (const row of rows) row.forEach((cell, j) => (widths[j] = Math.max(widths[j] ?? 0, cell.raw.length)));
    for (const row of rows) {
      const start = row[0]!.span.startOffset;
      const end = row[row.length - 1]!.span.endOffset;
      this.ownLineComments(start, indent, false);
      this.emit(indent, row.map((cell, j) => cell.raw.padStart(widths[j]!)).join(' '), end);
    }
  }
}

/** Width of the path column for each member: the widest path in its run of consecutive
 *  properties (or of axes) with no blank line and nothing else in between. 0 outside runs. */
function alignmentWidths(members: readonly Item[], text: string): number[] {
  const widths = members.map(() => 0);
  let runStart = 0;
  for (let i = 0; i <= members.length; i++) {
    const m = members[i];
    const prev = members[i - 1];
    const continues =
      m !== undefined &&
      prev !== undefined &&
      (m.kind === 'property' || m.kind === 'axis') &&
      m.kind === prev.kind &&
      !/\n[ \t]*\r?\n/.test(text.slice(prev.span.endOffset, m.span.startOffset));
    if (!continues) {
      const run = members.slice(runStart, i);
      const width = Math.max(0, ...run.map((r) => (r.kind === 'property' || r.kind === 'axis' ? pathText(r.path).length : 0)));
      for (let j = runStart; j < i; j++) widths[j] = width;
      runStart = i;
    }
  }
  return widths;
}

/** Trailing comments of consecutive lines at the same indent start in one column. */
function alignTrailingComments(lines: (Line | 'blank')[]): void {
  let i = 0;
  while (i < lines.length) {
    const first = lines[i]!;
    let j = i + 1;
    if (first !== 'blank') {
      while (j < lines.length && lines[j] !== 'blank' && (lines[j] as Line).indent === first.indent) j++;
      const run = lines.slice(i, j) as Line[];
      const column = Math.max(0, ...run.filter((l) => l.comment).map((l) => l.code.length));
      for (const l of run) if (l.comment) l.code = l.code.padEnd(column);
    }
    i = j;
  }
}

function pathText(path: readonly A.PathSegment[]): string {
  return path.map((s) => (s.kind === 'ident' ? s.name : String(s.value))).join('.');
}

/** An expression as written, up to spacing: parentheses are AST nodes, so none is added or lost. */
export function expr(e: A.Expr): string {
  switch (e.kind) {
    case 'number':
      return e.raw;
    case 'bool':
      return String(e.value);
    case 'string':
      return `"${e.value.replace(/[\\"]/g, '\\$&')}"`;
    case 'name':
      return e.name;
    case 'unary':
      return `${e.op}${expr(e.operand)}`;
    case 'binary': {
      // A fraction of two literals reads best tight (`1/8`); other operators get spaces.
      const tight = e.op === '/' && e.left.kind === 'number' && e.right.kind === 'number';
      return tight ? `${expr(e.left)}/${expr(e.right)}` : `${expr(e.left)} ${e.op} ${expr(e.right)}`;
    }
    case 'paren':
      return `(${expr(e.inner)})`;
    case 'tuple':
      return `(${e.elements.map(expr).join(', ')})`;
    case 'list':
      return `[${e.elements.map(expr).join(', ')}]`;
    case 'call':
      return `${e.callee.name}(${e.args.map(expr).join(', ')})`;
  }
}
