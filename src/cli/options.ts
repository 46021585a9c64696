// Parsing of numeric command-line flags: a bad value names the flag, what was wrong and what to do.
import { UsageError } from './errors.js';

export function positiveInt(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new UsageError(`${flag}: expected a positive integer, got \`${value}\``);
    }
    return n;
  };
}
