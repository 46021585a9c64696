// The .pst tokens. Newlines are skipped like other whitespace: the grid's rows are recovered from
// token line numbers by src/lang/parse.ts, so the grammar itself never sees a newline.
import { createToken, Lexer, type TokenType } from 'chevrotain';

export const WhiteSpace = createToken({
  name: 'WhiteSpace',
  pattern: /[ \t\r\n\f]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
/** `//` to the end of the line; kept aside in the lexer's `comments` group for the formatter. */
export const Comment = createToken({ name: 'Comment', pattern: /\/\/[^\n\r]*/, group: 'comments' });

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

// Hard keywords can never be names; they start declarations, which is also where error recovery
// resynchronises.
const hard = (name: string, word: string): TokenType =>
  createToken({ name, pattern: new RegExp(word), longer_alt: Identifier });
export const ImportKw = hard('ImportKw', 'import');
export const ConstKw = hard('ConstKw', 'const');
export const ModelKw = hard('ModelKw', 'model');
export const SweepKw = hard('SweepKw', 'sweep');
export const TrueKw = hard('TrueKw', 'true');
export const FalseKw = hard('FalseKw', 'false');

// Soft keywords are also identifiers (token category): `patch_shift = pattern_c` is a property,
// `mode = grid` a value, and `axis`/`variant` only mean something at the start of a sweep member.
const soft = (name: string, word: string): TokenType =>
  createToken({ name, pattern: new RegExp(word), longer_alt: Identifier, categories: [Identifier] });
export const PatchShiftKw = soft('PatchShiftKw', 'patch_shift');
export const ChannelShiftKw = soft('ChannelShiftKw', 'channel_shift');
export const ExtendsKw = soft('ExtendsKw', 'extends');
export const FromKw = soft('FromKw', 'from');
export const AxisKw = soft('AxisKw', 'axis');
export const VariantKw = soft('VariantKw', 'variant');
export const GridKw = soft('GridKw', 'grid');

/** `0.25`, `1e-5`, `2.5E3`: any number with a fraction or an exponent. */
export const Float = createToken({ name: 'Float', pattern: /\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+/ });
export const Integer = createToken({ name: 'Integer', pattern: /\d+/ });

export const StringLiteral = createToken({ name: 'StringLiteral', pattern: /"(?:[^"\\\n\r]|\\.)*"/ });
/** A string that reaches the end of its line. It counts as a string for the parser (so one
 *  mistake gives one diagnostic) and is reported as PST102 by src/lang/parse.ts. */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"(?:[^"\\\n\r]|\\.)*\\?/,
  categories: [StringLiteral],
});

export const LCurly = createToken({ name: 'LCurly', pattern: /\{/ });
export const RCurly = createToken({ name: 'RCurly', pattern: /\}/ });
export const LParen = createToken({ name: 'LParen', pattern: /\(/ });
export const RParen = createToken({ name: 'RParen', pattern: /\)/ });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/ });
export const Comma = createToken({ name: 'Comma', pattern: /,/ });
export const Semicolon = createToken({ name: 'Semicolon', pattern: /;/ });
export const Dot = createToken({ name: 'Dot', pattern: /\./ });
export const Equals = createToken({ name: 'Equals', pattern: /=/ });
export const Plus = createToken({ name: 'Plus', pattern: /\+/ });
export const Minus = createToken({ name: 'Minus', pattern: /-/ });
export const Star = createToken({ name: 'Star', pattern: /\*/ });
export const Slash = createToken({ name: 'Slash', pattern: /\// });

// Order matters: comments before `/`, keywords before identifiers, floats before integers,
// a terminated string before an unterminated one.
export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  ImportKw,
  ConstKw,
  ModelKw,
  SweepKw,
  TrueKw,
  FalseKw,
  PatchShiftKw,
  ChannelShiftKw,
  ExtendsKw,
  FromKw,
  AxisKw,
  VariantKw,
  GridKw,
  Identifier,
  Float,
  Integer,
  StringLiteral,
  UnterminatedString,
  LCurly,
  RCurly,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Semicolon,
  Dot,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
];

export const pstLexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: false });

/** How a token type is named in "expected …" messages. */
export function describeTokenType(t: TokenType): string {
  const words: Record<string, string> = {
    Identifier: 'a name',
    Float: 'a number',
    Integer: 'an integer',
    StringLiteral: 'a string',
    UnterminatedString: 'a string',
    EOF: 'the end of the file',
  };
  if (words[t.name]) return words[t.name]!;
  const pattern = t.PATTERN;
  const literal = pattern instanceof RegExp ? pattern.source.replace(/\\/g, '') : String(pattern);
  return `\`${literal}\``;
}
