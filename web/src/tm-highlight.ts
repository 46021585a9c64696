// Highlighting for the editor from our TextMate grammar (grammar/pst.tmLanguage.json), so the
// page and VS Code colour the same tokens the same way. A small interpreter of the grammar's
// subset we use — `match` rules with `captures`, `begin`/`end` rules with nested `patterns`, and
// `include` of repository rules — run line by line as a CodeMirror stream parser.
import { StreamLanguage, type StringStream } from '@codemirror/language';

interface Captures {
  [group: string]: { name?: string };
}

interface TmRule {
  name?: string;
  match?: string;
  captures?: Captures;
  begin?: string;
  beginCaptures?: Captures;
  end?: string;
  endCaptures?: Captures;
  include?: string;
  patterns?: TmRule[];
}

export interface TmGrammar {
  patterns: TmRule[];
  repository: Record<string, TmRule>;
}

/** A rule ready to run: regexes compiled once (sticky-free, global with indices). */
interface Compiled {
  name?: string;
  regex: RegExp;
  captures?: Captures;
  /** For begin rules: what is inside, and how it ends. */
  inner?: { end: RegExp; endCaptures?: Captures; patterns: Compiled[] };
}

interface Segment {
  length: number;
  style: string | null;
}

interface State {
  /** Open begin/end rules, innermost last. */
  stack: Compiled[];
  /** The rest of a match already made (capture groups become separate tokens). */
  pending: Segment[];
}

/** TextMate scope → CodeMirror's legacy token name (mapped to a highlight tag by StreamLanguage). */
function styleOf(scope: string | undefined): string | null {
  if (!scope) return null;
  const table: [string, string][] = [
    ['comment', 'comment'],
    ['constant.character.escape', 'escape'],
    ['string', 'string'],
    ['keyword.operator', 'operator'],
    ['keyword', 'keyword'],
    ['storage.type', 'keyword'],
    ['entity.name.type', 'typeName'],
    ['entity.other.inherited-class', 'className'],
    ['entity.name.section', 'labelName'],
    ['variable.other.property', 'propertyName'],
    ['variable', 'variableName'],
    ['constant.numeric', 'number'],
    ['constant.language.boolean', 'bool'],
    ['constant.language', 'atom'],
    ['punctuation', 'punctuation'],
  ];
  for (const [prefix, style] of table) if (scope === prefix || scope.startsWith(prefix + '.')) return style;
  return null;
}

function compileRules(grammar: TmGrammar, rules: readonly TmRule[], seen = new Set<string>()): Compiled[] {
  const out: Compiled[] = [];
  for (const rule of rules) {
    if (rule.include) {
      const key = rule.include.replace(/^#/, '');
      const target = grammar.repository[key];
      if (!target || seen.has(key)) continue;
      out.push(...compileRules(grammar, [target], new Set([...seen, key])));
    } else if (rule.match) {
      out.push({ name: rule.name, regex: new RegExp(rule.match, 'gd'), captures: rule.captures });
    } else if (rule.begin && rule.end) {
      const self: Compiled = { name: rule.name, regex: new RegExp(rule.begin, 'gd'), captures: rule.beginCaptures };
      out.push(self);
      // Inner patterns are compiled lazily-free: the grammar is small and not recursive here.
      self.inner = {
        end: new RegExp(rule.end, 'gd'),
        endCaptures: rule.endCaptures,
        patterns: compileRules(grammar, rule.patterns ?? [], seen),
      };
    } else if (rule.patterns) {
      out.push(...compileRules(grammar, rule.patterns, seen));
    }
  }
  return out;
}

/** Split a match into tokens: capture groups get their scope, the rest the rule's (or the context's). */
function segments(m: RegExpExecArray, captures: Captures | undefined, whole: string | null): Segment[] {
  const start = m.index;
  const end = start + m[0].length;
  const marks: { from: number; to: number; style: string | null }[] = [];
  const indices = m.indices ?? [];
  if (captures?.['0']) return [{ length: end - start, style: styleOf(captures['0'].name) ?? whole }];
  for (let g = 1; g < indices.length; g++) {
    const span = indices[g];
    const scope = captures?.[String(g)]?.name;
    if (span && scope && span[1] > span[0]) marks.push({ from: span[0], to: span[1], style: styleOf(scope) });
  }
  marks.sort((a, b) => a.from - b.from);
  const out: Segment[] = [];
  let at = start;
  for (const mark of marks) {
    if (mark.from < at) continue; // nested groups: the outer one wins
    if (mark.from > at) out.push({ length: mark.from - at, style: whole });
    out.push({ length: mark.to - mark.from, style: mark.style });
    at = mark.to;
  }
  if (end > at) out.push({ length: end - at, style: whole });
  return out.filter((s) => s.length > 0);
}

export function tmLanguage(grammar: TmGrammar): StreamLanguage<State> {
  const top = compileRules(grammar, grammar.patterns);

  const next = (stream: StringStream, state: State): string | null => {
    const frame = state.stack[state.stack.length - 1];
    const line = stream.string;
    const pos = stream.pos;
    const context = frame ? styleOf(frame.name) : null;
    type Candidate = { m: RegExpExecArray; rule?: Compiled; end?: boolean };
    let best: Candidate | undefined;
    const consider = (regex: RegExp, c: Omit<Candidate, 'm'>) => {
      regex.lastIndex = pos;
      const m = regex.exec(line);
      if (m && (!best || m.index < best.m.index)) best = { m, ...c };
    };
    // The end pattern first: at equal positions it wins, as in TextMate.
    if (frame?.inner) consider(frame.inner.end, { end: true });
    for (const rule of frame?.inner ? frame.inner.patterns : top) consider(rule.regex, { rule });
    if (!best) {
      stream.skipToEnd();
      return context;
    }
    const chosen: Candidate = best;
    if (chosen.m.index > pos) {
      stream.pos = chosen.m.index;
      return context;
    }
    if (chosen.m[0].length === 0) {
      stream.next(); // an empty match would never move on
      return context;
    }
    let parts: Segment[];
    if (chosen.end && frame?.inner) {
      parts = segments(chosen.m, frame.inner.endCaptures, context);
      state.stack.pop();
    } else {
      const rule = chosen.rule!;
      const whole = styleOf(rule.name) ?? context;
      parts = segments(chosen.m, rule.captures, whole);
      if (rule.inner) state.stack.push(rule);
    }
    const [first, ...rest] = parts;
    state.pending = rest;
    stream.pos += first!.length;
    return first!.style;
  };

  return StreamLanguage.define<State>({
    name: 'pst',
    startState: () => ({ stack: [], pending: [] }),
    copyState: (s) => ({ stack: [...s.stack], pending: [...s.pending] }),
    token(stream, state) {
      const queued = state.pending.shift();
      if (queued) {
        stream.pos += queued.length;
        return queued.style;
      }
      return next(stream, state);
    },
    languageData: { commentTokens: { line: '//' } },
  });
}
