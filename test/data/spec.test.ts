import { describe, expect, it } from 'vitest';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { parseDataSpec } from '../../src/data/spec.js';

function diagnosticOf(spec: string) {
  try {
    parseDataSpec(spec);
  } catch (e) {
    expect(e).toBeInstanceOf(DiagnosticError);
    const d = (e as DiagnosticError).diagnostics[0]!;
    return d;
  }
  throw new Error(`parseDataSpec(${spec}) did not fail`);
}

describe('--data spec parsing', () => {
  it('reads npy pairs and synthetic options', () => {
    expect(parseDataSpec('npy:a/clips.npy,b/labels.npy')).toEqual({ kind: 'npy', clips: 'a/clips.npy', labels: 'b/labels.npy' });
    expect(parseDataSpec('synthetic:motion')).toEqual({ kind: 'synthetic', generator: 'motion', options: {} });
    expect(parseDataSpec(' synthetic:motion, classes=6,noise=0.05,hold=1,train=64,val=16,seed=-3 ')).toEqual({
      kind: 'synthetic',
      generator: 'motion',
      options: { classes: 6, noise: 0.05, hold: 1, train: 64, val: 16, seed: -3 },
    });
  });

  it.each([
    ['', 'no data given', undefined],
    ['clips.npy', 'does not say what kind', undefined],
    ['npz:a.npy,b.npy', 'unknown kind of data `npz`', 'did you mean `npy:`?'],
    ['syntetic:motion', 'unknown kind', 'did you mean `synthetic:`?'],
    ['npy:a.npy', 'should name two .npy files', undefined],
    ['npy:a.npy,b.npy,c.npy', 'should name two .npy files', undefined],
    ['npy:a.npy,b.npy,mmap=1', 'unknown option `mmap`', undefined],
    ['synthetic:motoin', 'unknown synthetic set `motoin`', 'did you mean `motion`?'],
    ['synthetic:motion,clases=4', 'unknown option `clases`', 'did you mean `classes`?'],
    ['synthetic:motion,classes=2.5', '`classes=2.5` is not a positive integer', undefined],
    ['synthetic:motion,noise=-1', '`noise=-1` is not a non-negative number', undefined],
    ['synthetic:motion,train=0', '`train=0` is not a positive integer', undefined],
    ['synthetic:motion,seed=x', '`seed=x` is not an integer', undefined],
    ['synthetic:motion,,seed=1', 'empty item', undefined],
    ['synthetic:motion,seed=1,seed=2', 'sets `seed` twice', undefined],
  ])('%s → PST601', (spec, message, hint) => {
    const d = diagnosticOf(spec);
    expect(d.code).toBe('PST601');
    expect(d.flag).toBe('--data');
    expect(d.message).toContain(message);
    if (hint) expect(d.hint).toBe(hint);
  });
});
