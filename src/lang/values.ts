// Typed readers over evaluated values: each returns the typed value, or undefined after reporting
// why not (PST220 wrong type, PST211 unknown name, PST222 out of range). A poisoned value returns
// undefined silently: its error was reported where it arose.
import { closestName } from './diagnostics.js';
import { constNames, describe, numberText, unknownName, type Value } from './evaluate.js';
import type { Reporter } from './report.js';

function unusable(v: Value, r: Reporter, expected: string, candidates: () => Iterable<string>): undefined {
  if (v.kind === 'poison') r.poisoned();
  else if (v.kind === 'word' && !v.decl) unknownName(v, candidates(), r, expected);
  else r.error('PST220', v.span, `expected ${expected}, got ${describe(v)}`, { expected });
  return undefined;
}

export interface Range {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Exclusive upper bound. */
  below?: number;
  /** Inclusive upper bound. */
  max?: number;
}

function rangeText(range: Range): string {
  const lo = range.min !== undefined ? `≥ ${range.min}` : range.above !== undefined ? `> ${range.above}` : '';
  const hi = range.max !== undefined ? `≤ ${range.max}` : range.below !== undefined ? `< ${range.below}` : '';
  return [lo, hi].filter(Boolean).join(' and ');
}

export function inRange(x: number, range: Range): boolean {
  return (
    (range.min === undefined || x >= range.min) &&
    (range.above === undefined || x > range.above) &&
    (range.below === undefined || x < range.below) &&
    (range.max === undefined || x <= range.max)
  );
}

export function readNumber(v: Value, r: Reporter, range: Range = {}): number | undefined {
  if (v.kind !== 'number') return unusable(v, r, 'a number', () => constNames(scopeOf(v)));
  if (!inRange(v.value, range)) {
    const expected = `a number ${rangeText(range)}`;
    r.error('PST222', v.span, `${numberText(v.value)} is out of range: expected ${expected}`, { expected });
    return undefined;
  }
  return v.value;
}

/** An integer (a float with an integral value is fine: `dim / 2` when dim is even). */
export function readInt(v: Value, r: Reporter, range: Range = { min: 1 }): number | undefined {
  const what = range.min === 1 ? 'a positive int' : 'an int';
  if (v.kind !== 'number') return unusable(v, r, what, () => constNames(scopeOf(v)));
  if (!Number.isInteger(v.value)) {
    r.error('PST220', v.span, `expected ${what}, got ${numberText(v.value)}`, { expected: what });
    return undefined;
  }
  if (!inRange(v.value, range)) {
    r.error('PST222', v.span, `${numberText(v.value)} is out of range: expected ${what}`, { expected: `an int ${rangeText(range)}` });
    return undefined;
  }
  return v.value;
}

export function readBool(v: Value, r: Reporter): boolean | undefined {
  if (v.kind !== 'bool') return unusable(v, r, '`true` or `false`', () => ['true', 'false']);
  return v.value;
}

/** One of a fixed set of words (`cyclic`, `window2d`, …). */
export function readWord<const W extends string>(v: Value, words: readonly W[], r: Reporter): W | undefined {
  const expected = `one of ${words.map((w) => `\`${w}\``).join(', ')}`;
  if (v.kind === 'word' && (words as readonly string[]).includes(v.name)) return v.name as W;
  return unusable(v, r, expected, () => words);
}

/** `(a, b, c)` of ints (each checked with `range`). */
export function readIntTuple(v: Value, n: number, r: Reporter, range: Range = { min: 1 }): number[] | undefined {
  const expected = `a tuple of ${n} ints`;
  if (v.kind !== 'tuple' || v.elements.length !== n) {
    if (v.kind === 'tuple') {
      r.error('PST220', v.span, `expected ${expected}, got a tuple of ${v.elements.length}`, { expected });
      return undefined;
    }
    return unusable(v, r, expected, () => constNames(scopeOf(v)));
  }
  const out: number[] = [];
  for (const e of v.elements) {
    const x = readInt(e, r, range);
    if (x === undefined) return undefined;
    out.push(x);
  }
  return out;
}

function scopeOf(v: Value) {
  return v.kind === 'word' ? v.scope : new Map();
}

/** A hint for a name that should have been one of `candidates`. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const close = closestName(name, candidates);
  return close ? `did you mean \`${close}\`?` : undefined;
}
