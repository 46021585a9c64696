// The .pst grammar as a chevrotain CstParser: syntax only, no semantics. src/lang/parse.ts turns
// the CST into the AST. Error recovery is on, so one parse reports every syntax error of a file;
// the grammar is shaped for it: every repetition is followed by a terminal (`}`, `]`, `)`, EOF),
// which lets chevrotain skip a bad member and carry on with the next one.
import { CstParser, EOF, type IParserErrorMessageProvider, type TokenType } from 'chevrotain';
import * as T from './lexer.js';

/** Tokens allowed as grid cells by the grammar. Only signed integers are valid cells; the rest are
 *  accepted here so that src/lang/parse.ts can report them as bad grid cells (PST103). */
const gridCellTokens: TokenType[] = [
  T.Integer,
  T.Float,
  T.Plus,
  T.Minus,
  T.Star,
  T.Slash,
  T.Dot,
  T.Comma,
  T.Semicolon,
  T.Identifier,
  T.TrueKw,
  T.FalseKw,
];

export class PstParser extends CstParser {
  constructor() {
    super(T.allTokens, { recoveryEnabled: true, errorMessageProvider: expectedInWords });
    this.performSelfAnalysis();
  }

  /** Never invent an opening bracket to recover: `heads 3 window = 1` would open a section that
   *  swallows the rest of the body and turn one mistake into several. */
  override canTokenTypeBeInsertedInRecovery(tokType: TokenType): boolean {
    return tokType !== T.LCurly && tokType !== T.LParen && tokType !== T.LBracket;
  }

  program = this.RULE('program', () => {
    this.MANY(() => this.SUBRULE(this.decl));
    this.CONSUME(EOF);
  });

  decl = this.RULE('decl', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.importDecl) },
      { ALT: () => this.SUBRULE(this.constDecl) },
      { ALT: () => this.SUBRULE(this.shiftDecl) },
      { ALT: () => this.SUBRULE(this.modelDecl) },
      { ALT: () => this.SUBRULE(this.sweepDecl) },
    ]);
  });

  importDecl = this.RULE('importDecl', () => {
    this.CONSUME(T.ImportKw);
    this.CONSUME(T.StringLiteral);
  });

  constDecl = this.RULE('constDecl', () => {
    this.CONSUME(T.ConstKw);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  shiftDecl = this.RULE('shiftDecl', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.PatchShiftKw, { LABEL: 'keyword' }) },
      { ALT: () => this.CONSUME(T.ChannelShiftKw, { LABEL: 'keyword' }) },
    ]);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.SUBRULE(this.block);
  });

  modelDecl = this.RULE('modelDecl', () => {
    this.CONSUME(T.ModelKw);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.ExtendsKw);
      this.CONSUME2(T.Identifier, { LABEL: 'base' });
    });
    this.SUBRULE(this.block);
  });

  sweepDecl = this.RULE('sweepDecl', () => {
    this.CONSUME(T.SweepKw);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.CONSUME(T.FromKw);
    this.CONSUME2(T.Identifier, { LABEL: 'base' });
    this.SUBRULE(this.sweepBlock);
  });

  // ------------------------------------------------------------------ bodies
  block = this.RULE('block', () => {
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.member));
    this.CONSUME(T.RCurly);
  });

  member = this.RULE('member', () => {
    this.OR([
      // `grid {` is a grid; any other `name {` is a section (GridKw is also an Identifier, hence
      // the ambiguity, resolved by order).
      { ALT: () => this.SUBRULE(this.gridBlock), IGNORE_AMBIGUITIES: true },
      { ALT: () => this.SUBRULE(this.propertyOrSection) },
    ]);
  });

  /** Left-factored on the first name so that an error after it says what may follow a name. */
  propertyOrSection = this.RULE('propertyOrSection', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OR([
      {
        ALT: () => {
          this.SUBRULE(this.pathTail);
          this.CONSUME(T.Equals);
          this.SUBRULE(this.expression);
        },
      },
      {
        ALT: () => {
          this.OPTION(() => this.CONSUME(T.Integer, { LABEL: 'index' }));
          this.SUBRULE(this.block);
        },
      },
    ]);
  });

  /** `.b.3.c` after the first segment of a path (possibly empty). */
  pathTail = this.RULE('pathTail', () => {
    this.MANY(() => {
      this.CONSUME(T.Dot);
      this.OR([
        { ALT: () => this.CONSUME(T.Identifier, { LABEL: 'segment' }) },
        { ALT: () => this.CONSUME(T.Integer, { LABEL: 'segment' }) },
      ]);
    });
  });

  gridBlock = this.RULE('gridBlock', () => {
    this.CONSUME(T.GridKw);
    this.CONSUME(T.LCurly);
    this.MANY(() => {
      this.OR(gridCellTokens.map((t) => ({ ALT: () => this.CONSUME(t, { LABEL: 'cell' }) })));
    });
    this.CONSUME(T.RCurly);
  });

  sweepBlock = this.RULE('sweepBlock', () => {
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.sweepMember));
    this.CONSUME(T.RCurly);
  });

  sweepMember = this.RULE('sweepMember', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.axisDecl) },
      { ALT: () => this.SUBRULE(this.variantDecl) },
      { ALT: () => this.SUBRULE(this.property) },
    ]);
  });

  axisDecl = this.RULE('axisDecl', () => {
    this.CONSUME(T.AxisKw);
    this.SUBRULE(this.path);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.list);
  });

  variantDecl = this.RULE('variantDecl', () => {
    this.CONSUME(T.VariantKw);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.SUBRULE(this.block);
  });

  property = this.RULE('property', () => {
    this.SUBRULE(this.path);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  path = this.RULE('path', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.SUBRULE(this.pathTail);
  });

  // ------------------------------------------------------------------ expressions
  expression = this.RULE('expression', () => {
    this.SUBRULE(this.term, { LABEL: 'operand' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Plus, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.Minus, { LABEL: 'op' }) },
      ]);
      this.SUBRULE2(this.term, { LABEL: 'operand' });
    });
  });

  term = this.RULE('term', () => {
    this.SUBRULE(this.unary, { LABEL: 'operand' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Star, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.Slash, { LABEL: 'op' }) },
      ]);
      this.SUBRULE2(this.unary, { LABEL: 'operand' });
    });
  });

  unary = this.RULE('unary', () => {
    this.OR([
      {
        ALT: () => {
          this.OR2([
            { ALT: () => this.CONSUME(T.Plus, { LABEL: 'op' }) },
            { ALT: () => this.CONSUME(T.Minus, { LABEL: 'op' }) },
          ]);
          this.SUBRULE(this.unary, { LABEL: 'operand' });
        },
      },
      { ALT: () => this.SUBRULE(this.primary) },
    ]);
  });

  primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Integer) },
      { ALT: () => this.CONSUME(T.Float) },
      { ALT: () => this.CONSUME(T.TrueKw) },
      { ALT: () => this.CONSUME(T.FalseKw) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.SUBRULE(this.nameOrCall) },
      { ALT: () => this.SUBRULE(this.parenOrTuple) },
      { ALT: () => this.SUBRULE(this.list) },
    ]);
  });

  nameOrCall = this.RULE('nameOrCall', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.OPTION2(() => this.SUBRULE(this.elements));
      this.CONSUME(T.RParen);
    });
  });

  parenOrTuple = this.RULE('parenOrTuple', () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.elements);
    this.CONSUME(T.RParen);
  });

  list = this.RULE('list', () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => this.SUBRULE(this.elements));
    this.CONSUME(T.RBracket);
  });

  /** `a, b, c`: one or more comma-separated expressions. */
  elements = this.RULE('elements', () => {
    this.SUBRULE(this.expression, { LABEL: 'element' });
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.expression, { LABEL: 'element' });
    });
  });
}

// ---------------------------------------------------------------- error messages
// chevrotain builds each error's message through this provider. We make the message the list of
// what was expected, in words; src/lang/parse.ts adds "unexpected `x`" from the error's token.

const declarationWords = 'a declaration (`import`, `const`, `patch_shift`, `channel_shift`, `model` or `sweep`)';
const valueWords = 'a value (a number, a name, `(`, `[`, `-` or `+`)';

/** What a rule expects instead of the token that ends its repetition, where plain token names would mislead. */
const closingWords: Record<string, string> = {
  program: declarationWords,
  block: 'a property, a section or `}`',
  sweepBlock: '`axis`, `variant`, a property or `}`',
  gridBlock: 'a signed integer, `;` or `}`',
};

/** Rules whose alternatives are better described as one thing. */
const alternativesWords: Record<string, string> = {
  decl: declarationWords,
  unary: valueWords,
  primary: valueWords,
  expression: valueWords,
  term: valueWords,
  propertyOrSection: '`=`, `.`, `{` or a section number',
  sweepMember: '`axis`, `variant` or a property',
};

export function joinWords(words: readonly string[]): string {
  const unique = [...new Set(words)];
  if (unique.length <= 1) return unique[0] ?? 'something else';
  return `${unique.slice(0, -1).join(', ')} or ${unique[unique.length - 1]}`;
}

/** The rule's own name: chevrotain may pass a qualified one. */
const shortRule = (ruleName: string): string => ruleName.split('.').pop() ?? ruleName;

export const expectedInWords: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, ruleName }) {
    const rule = shortRule(ruleName);
    const closing = expected === T.RCurly || expected === EOF || expected === T.RParen || expected === T.RBracket;
    if (closing && closingWords[rule]) return closingWords[rule]!;
    return T.describeTokenType(expected);
  },
  buildNotAllInputParsedMessage() {
    return declarationWords;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, ruleName }) {
    const rule = shortRule(ruleName);
    if (alternativesWords[rule]) return alternativesWords[rule]!;
    return joinWords(expectedPathsPerAlt.flatMap((paths) => paths.map((p) => T.describeTokenType(p[0]!))));
  },
  buildEarlyExitMessage({ expectedIterationPaths }) {
    return joinWords(expectedIterationPaths.map((p) => T.describeTokenType(p[0]!)));
  },
};

/** One parser for the whole process: chevrotain parsers are reusable (set `input`, call a rule). */
export const pstParser = new PstParser();
