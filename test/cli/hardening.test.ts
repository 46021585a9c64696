// Hostile and careless use of the CLI's inputs and outputs: sizes that would exhaust memory,
// outputs that are inputs, folders, read-only files, symlinks and devices, injection into
// generated code. Each ends quickly with a message naming the flag (exit 1 or 2), never an
// internal error (70), and never changes an input.
import { chmodSync, copyFileSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOutputPath } from '../../src/cli/output-path.js';
import { commentText, tsString } from '../../src/explore/emit-ts.js';
import { ReadOnlyOutputError, writeFileAtomic } from '../../src/weights/atomic.js';
import { writeNpy } from '../../src/weights/index.js';
import { runCli as run } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'pstc-cli-hardening-'));
cpSync(resolve('models'), join(dir, 'models'), { recursive: true });
const model = join(dir, 'models/tiny/pst-tiny.pst');
const shifts = join(dir, 'models/common/shifts.pst');

describe('input sizes are bounded before anything is allocated', () => {
  it('refuses absurd flags by name (exit 2)', async () => {
    for (const [flag, value] of [
      ['--size', '100000'],
      ['--batch', '1000000000'],
      ['--frames', '99999999'],
    ]) {
      const r = await run(['explain', model, flag!, value!]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${flag}: at most`);
    }
    const iters = await run(['bench', model, '--iters', '1000000000']);
    expect(iters.code).toBe(2);
    expect(iters.stderr).toContain('--iters: at most');
  });

  it('refuses a size whose tensors exceed 2^31 − 1 elements (PST313) before anything is allocated', async () => {
    for (const args of [
      ['--size', '16384'],
      ['--batch', '65536', '--size', '1024'],
      ['--frames', '4096', '--size', '4096'],
    ]) {
      for (const command of ['explain', 'emit-ts', 'compile']) {
        const extra = command === 'emit-ts' ? ['--out', join(dir, 'x.ts')] : command === 'compile' ? ['--emit', 'ir'] : [];
        const r = await run([command, model, ...args, ...extra]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain('PST313');
        expect(r.stderr).toContain('--batch/--frames/--size');
      }
    }
  });

  it("a model whose own input { size } is huge is refused before run allocates a random clip", async () => {
    const big = join(dir, 'models/tiny/big-input.pst');
    writeFileSync(big, readFileSync(model, 'utf8').replace(/input \{[^}]*\}/, 'input { frames = 8  size = 100000 }'));
    const r = await run(['run', big, '--random-weights', '1', '--random-input', '1', '--out', join(dir, 'o.npy')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('PST313');
  });
});

describe('outputs', () => {
  it('refuses an output that is an input: the model, a file it imports, the clip (via a symlink too)', async () => {
    const before = readFileSync(model, 'utf8');
    const link = join(dir, 'link.pst');
    symlinkSync(model, link);
    const cases = [
      ['emit-ts', model, '--out', model],
      ['emit-ts', model, '--out', shifts],
      ['emit-ts', model, '--out', link],
      ['compile', model, '--emit', 'ir', '--out', model],
      ['explain', model, '--svg', model],
      ['run', model, '--random-weights', '1', '--random-input', '1', '--out', model],
    ];
    for (const args of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('is an input of this command');
    }
    const clip = join(dir, 'clip.npy');
    writeFileSync(clip, 'not really a clip');
    const r = await run(['run', model, '--random-weights', '1', '--input', clip, '--out', clip]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--out');
    expect(readFileSync(clip, 'utf8')).toBe('not really a clip');
    expect(readFileSync(model, 'utf8')).toBe(before);
  });

  it('compile --emit wgsl does not write through a symlink in the folder that points at an input', async () => {
    const out = join(dir, 'kernels');
    mkdirSync(out);
    symlinkSync(model, join(out, 'index.md'));
    const before = readFileSync(model, 'utf8');
    const r = await run(['compile', model, '--emit', 'wgsl', '--out', out]);
    expect(r.code).toBe(2);
    // Refused as a folder that is not a kernel folder of ours (its index.md is the model), before the input check.
    expect(r.stderr).toMatch(/is an input of this command|is a folder with other files/);
    expect(readFileSync(model, 'utf8')).toBe(before);
  });

  it('names the flag for a folder, a missing folder, a file where a folder is wanted, a read-only file', async () => {
    const file = join(dir, 'existing.txt');
    writeFileSync(file, 'keep');
    const readOnly = join(dir, 'readonly.ts');
    writeFileSync(readOnly, 'keep');
    chmodSync(readOnly, 0o444);
    const cases: [string[], string][] = [
      [['emit-ts', model, '--out', dir], 'is a folder'],
      [['emit-ts', model, '--out', join(dir, 'no/such/x.ts')], 'does not exist'],
      [['emit-ts', model, '--out', readOnly], 'read-only'],
      [['compile', model, '--emit', 'ir', '--out', dir], 'is a folder'],
      [['compile', model, '--emit', 'wgsl', '--out', file], 'not a folder'],
      [['explain', model, '--svg', dir], 'is a folder'],
      [['explain', model, '--png', join(dir, 'nope/x.png')], 'does not exist'],
      [['run', model, '--random-weights', '1', '--random-input', '1', '--out', join(dir, 'nope/x.npy')], 'does not exist'],
      [['emit-ts', model, '--out', ''], 'empty'],
    ];
    for (const [args, why] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^pstc: --(out|svg|png): cannot write/);
      expect(r.stderr).toContain(why);
    }
    expect(readFileSync(file, 'utf8')).toBe('keep');
    expect(readFileSync(readOnly, 'utf8')).toBe('keep');
  });

  it('writes through a symlink to its target, and to /dev/null without replacing it', async () => {
    const target = join(dir, 'target.ir');
    writeFileSync(target, 'old');
    chmodSync(target, 0o640);
    const link = join(dir, 'out-link.ir');
    symlinkSync(target, link);
    expect((await run(['compile', model, '--emit', 'ir', '--out', link])).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(target);
    expect(readFileSync(target, 'utf8')).toContain('%0 = input');
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect((await run(['compile', model, '--emit', 'ir', '--out', '/dev/null'])).code).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('the atomic writer itself: symlinks, devices, read-only files, a dangling link', () => {
    const target = join(dir, 'w-target');
    const link = join(dir, 'w-link');
    writeFileSync(target, 'a');
    symlinkSync(target, link);
    writeFileAtomic(link, 'b');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('b');
    writeFileAtomic('/dev/null', 'nothing');
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    chmodSync(target, 0o444);
    expect(() => writeFileAtomic(link, 'c')).toThrow(ReadOnlyOutputError);
    expect(readFileSync(target, 'utf8')).toBe('b');
    const dangling = join(dir, 'w-dangling');
    symlinkSync(join(dir, 'w-new'), dangling);
    writeFileAtomic(dangling, 'd');
    expect(lstatSync(dangling).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'w-new'), 'utf8')).toBe('d');
    expect(() => checkOutputPath({ flag: '--out', path: join(dir, 'w-new'), kind: 'file', inputs: [dangling] })).toThrow(/input/);
  });

  it('fmt leaves a read-only file alone and says so; writes through a symlink', async () => {
    const messy = join(dir, 'models/tiny/messy.pst');
    copyFileSync(model, messy);
    writeFileSync(messy, `${readFileSync(model, 'utf8')}\nmodel    zz   extends pst_t_tiny { }\n`);
    const before = readFileSync(messy, 'utf8');
    chmodSync(messy, 0o444);
    const r = await run(['fmt', messy]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('read-only');
    expect(readFileSync(messy, 'utf8')).toBe(before);
    chmodSync(messy, 0o644);
    const link = join(dir, 'models/tiny/messy-link.pst');
    symlinkSync(messy, link);
    expect((await run(['fmt', link])).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(messy, 'utf8')).toContain('model zz extends pst_t_tiny {}');
    expect((await run(['fmt', '/dev/zero'])).code).toBe(2);
  });
});

describe('inputs', () => {
  it('--input that is a device, a folder or missing is a message naming the flag', async () => {
    for (const input of ['/dev/zero', join(dir, 'missing.npy')]) {
      const r = await run(['run', model, '--random-weights', '1', '--input', input, '--out', join(dir, 'o.npy')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--input: `[^`]+`: (it is a .*, not a regular file|cannot open it: no such file)/);
    }
    // A folder is read as a frame folder: one without frames says so.
    const folder = await run(['run', model, '--random-weights', '1', '--input', dir, '--out', join(dir, 'o.npy')]);
    expect(folder.code).toBe(1);
    expect(folder.stderr).toContain('PST616');
  });
});

describe('clip values', () => {
  it('a clip with NaN or an infinity is refused by name, not run into NaN logits', async () => {
    const clip = new Float32Array(1 * 3 * 8 * 32 * 32);
    clip[5] = Number.NaN;
    clip[7] = Number.POSITIVE_INFINITY;
    const file = join(dir, 'nan.npy');
    writeFileSync(file, writeNpy([1, 3, 8, 32, 32], clip));
    const r = await run(['run', model, '--random-weights', '1', '--input', file, '--out', join(dir, 'o.npy')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('holds 1 NaN and 1 infinite values among 24576');
  });
});

describe('generated code', () => {
  it('a model path with a newline cannot inject code into the module emit-ts writes', async () => {
    const evil = join(dir, 'models/tiny', 'evil\nconsole.log("pwned");\u2028x\r.pst');
    copyFileSync(model, evil);
    const out = join(dir, 'evil.ts');
    const r = await run(['emit-ts', evil, '--out', out]);
    expect(r.code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text.split('\n')[0]).toContain('evil\\x0aconsole.log("pwned");\\u2028x\\x0d.pst');
    expect(text).not.toMatch(/^console\.log/m);
    expect(text).not.toMatch(/[\u2028\u2029\r]/);
    expect(commentText('a */ b\nc')).toBe('a *\\/ b\\x0ac');
    expect(tsString("it's \\ \n")).toBe("'it\\'s \\\\ \\x0a'");
  });
});
