// Issue 22: hostile and careless inputs against the surfaces added since the first hardening —
// the Slurm script, FFmpeg, serve, the ablation directory, train/compile/export outputs, annotation
// lists, checkpoints, data specs. Each ends with a located message (exit 1 or 2), never exit 70, a
// hang, a changed input or a command run. Work is bounded by what the code enforces (size caps,
// regular files only, O_NONBLOCK opens), so no test here times anything.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostChecker, pageServer } from '../../src/cli/commands/serve.js';
import { readAnnotations } from '../../src/data/annotations.js';
import { checkVideoSize, localInput, probeVideo } from '../../src/data/ffmpeg.js';
import { parseDataSpec } from '../../src/data/spec.js';
import { NpyDataset } from '../../src/data/npy-dataset.js';
import { AblationDir, batchScript, planSweep } from '../../src/explore/ablate/index.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { writeNpy } from '../../src/weights/index.js';
import { evaluationSpec } from '../../src/data/open.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { initWeights } from '../../src/weights/init.js';
import { writeSafetensors } from '../../src/weights/safetensors.js';
import { runCli as run } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'pstc-hardening-surfaces-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
cpSync(resolve('models'), join(dir, 'models'), { recursive: true });
const model = join(dir, 'models/tiny/pst-tiny.pst');

/** A FIFO (no writer: opening it for reading the ordinary way would block forever). */
function fifo(name: string): string {
  const path = join(dir, name);
  const r = spawnSync('mkfifo', [path]);
  expect(r.status, 'mkfifo').toBe(0);
  return path;
}

function codesOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof DiagnosticError) return e.diagnostics.map((d) => `${d.code} ${d.message}`);
    throw e;
  }
  return [];
}

describe('command execution and the network', () => {
  const abl = new AblationDir(join(dir, 'abl'));
  const base = { taskCommand: ['/usr/bin/node', '/opt/pstc.js', 'ablate'] };

  it('Slurm values are checked against their grammar: a newline or a quote never becomes a line of task.sh', () => {
    for (const [bad, flag] of [
      [{ partition: 'gpu\ntouch /tmp/pwned' }, '--partition'],
      [{ partition: 'gpu"' }, '--partition'],
      [{ partition: '$(id)' }, '--partition'],
      [{ time: '2:00:00\nrm -rf ~' }, '--time'],
      [{ time: '1 hour' }, '--time'],
      [{ gpusPerRun: 0.5 }, '--gpus-per-run'],
    ] as const) {
      const codes = codesOf(() => batchScript(abl, { ...base, ...bad }));
      expect(codes.join('\n'), JSON.stringify(bad)).toMatch(new RegExp(`^PST807 ${flag}`));
    }
    for (const time of ['30', '2:00:00', '1-00:00:00', '1-12', 'UNLIMITED']) expect(codesOf(() => batchScript(abl, { ...base, time }))).toEqual([]);
    const script = batchScript(new AblationDir('/shared/my abl'), { ...base, partition: 'gpu,debug' });
    expect(script).toContain('#SBATCH --output="/shared/my abl/logs/slurm-%A_%a.out"');
    expect(script).toContain("--out '/shared/my abl'");
    // A folder whose path would end the quoted #SBATCH value is refused, not written.
    expect(codesOf(() => batchScript(new AblationDir('/shared/a"b'), base))[0]).toMatch(/^PST807/);
  });

  it('pstc ablate --executor slurm refuses a bad --partition before it plans or writes anything', async () => {
    const out = join(dir, 'slurm-out');
    const r = await run(['ablate', model, '--measure-only', '--executor', 'slurm', '--partition', 'gpu\necho pwned', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('PST807');
    expect(existsSync(out)).toBe(false);
  });

  it('FFmpeg is given only local regular files through the file: protocol (a URL is a file name)', async () => {
    const video = join(dir, 'v.mp4');
    writeFileSync(video, 'not a video');
    expect(localInput(video)).toEqual(['-protocol_whitelist', 'file', '-i', `file:${video}`]);
    await expect(probeVideo('http://127.0.0.1:9/x.mp4')).rejects.toThrow('no such file');
    await expect(probeVideo('http:/host/x.mp4')).rejects.toThrow('no such file');
    await expect(probeVideo(fifo('video.fifo'))).rejects.toThrow('not a regular file');
    await expect(probeVideo(dir)).rejects.toThrow('folder');
  });

  it('a video whose header says 6000×6000 is refused before a frame is decoded', () => {
    expect(() => checkVideoSize({ width: 6000, height: 6000, frames: 10 })).toThrow('at most 16777216 (4096×4096)');
    expect(() => checkVideoSize({ width: 320, height: 240, frames: 1e9 })).toThrow('frames');
    expect(() => checkVideoSize({ width: 3840, height: 2160, frames: 300 })).not.toThrow();
  });
});

describe('pstc serve', () => {
  const site = join(dir, 'site');
  mkdirSync(site);
  writeFileSync(join(site, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dir, 'secret.txt'), 'outside');
  symlinkSync(join(dir, 'secret.txt'), join(site, 'link.txt'));
  symlinkSync(join(site, 'index.html'), join(site, 'inner.html'));

  const get = (port: number, path: string, host: string) =>
    new Promise<{ status: number; body: string }>((ok, fail) => {
      const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', fail);
      req.end();
    });

  it('answers only its own Host (DNS rebinding), follows no symlink out, refuses a FIFO without blocking', async () => {
    fifo('site/pipe.js');
    const server = pageServer(site, hostChecker('127.0.0.1'));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as AddressInfo).port;
    try {
      expect((await get(port, '/', `127.0.0.1:${port}`)).status).toBe(200);
      expect((await get(port, '/', `localhost:${port}`)).status).toBe(200);
      expect((await get(port, '/', `evil.example:${port}`)).status).toBe(421);
      expect((await get(port, '/link.txt', `127.0.0.1:${port}`)).status).toBe(403);
      expect((await get(port, '/inner.html', `127.0.0.1:${port}`)).status).toBe(200);
      // The FIFO is refused, and the server still answers afterwards.
      expect((await get(port, '/pipe.js', `127.0.0.1:${port}`)).status).toBe(403);
      expect((await get(port, '/', `127.0.0.1:${port}`)).status).toBe(200);
    } finally {
      server.close();
    }
    const wild = hostChecker('0.0.0.0');
    expect([wild('192.168.1.5:8080'), wild('localhost:8080'), wild('[::1]:8080'), wild('attacker.example')]).toEqual([true, true, true, false]);
  });

  it('an empty or malformed --host and a port out of range are user errors (exit 2)', async () => {
    for (const args of [['--host', ''], ['--host', 'a b'], ['--host', 'x\ny'], ['--port', '70000']]) {
      const r = await run(['serve', '--dir', site, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/--host|--port/);
    }
  });
});

describe('data loss and escaping a folder', () => {
  const sweep = join(dir, 'sweep.pst');
  writeFileSync(sweep, `import "${model}"\nsweep mini from pst_t_tiny {\n  variant pst { }\n  variant swin2d { shifts = none  bias_frames = 1 }\n}\n`);

  it('a plan.json whose run id leads out of DIR is refused by --resume --force, --status and --report; the victim stays', async () => {
    const victim = join(dir, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'keep.txt'), 'precious');
    const out = join(dir, 'tampered');
    const ablation = new AblationDir(out);
    const plan = planSweep(sweep, { seeds: [0], budget: { steps: 0, batch: 1, timingIters: 1 } });
    ablation.writePlan({ ...plan, runs: plan.runs.map((r, i) => (i === 0 ? { ...r, id: '../../victim' } : r)) });
    for (const args of [['--resume', '--force', '--out', out], ['--status', out], ['--report', out]]) {
      const r = await run(['ablate', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain('PST803');
      expect(r.stderr).toContain('is not a run id');
    }
    expect(readFileSync(join(victim, 'keep.txt'), 'utf8')).toBe('precious');
    // Damaged the other ways: null, a list, JSON of another shape — one message each, never exit 70.
    for (const text of ['null', '[]', '{"format":"pstc-ablate-plan/1","runs":null}', '{"format":"pstc-ablate-plan/1"', '']) {
      writeFileSync(ablation.planPath, text);
      const r = await run(['ablate', '--status', out]);
      expect(r.code, text).toBe(1);
      expect(r.stderr).toContain('PST803');
    }
    // A plan.json that is a FIFO is refused, not waited on.
    rmSync(ablation.planPath);
    fifo('tampered/plan.json');
    expect((await run(['ablate', '--status', out])).stderr).toContain('not a regular file');
  });

  it('a record or marker that is null, of another shape or a FIFO is ignored (the run is not finished), never trusted', () => {
    const out = join(dir, 'records');
    const ablation = new AblationDir(out);
    const plan = planSweep(sweep, { seeds: [0], budget: { steps: 0, batch: 1, timingIters: 1 } });
    ablation.writePlan(plan);
    const run0 = plan.runs[0]!;
    for (const text of ['null', '{"format":"pstc-ablate-run/1"}', `{"format":"pstc-ablate-run/1","id":"../x","key":"${run0.key}"}`]) {
      writeFileSync(ablation.recordPath(run0.id), text);
      writeFileSync(ablation.markerPath(run0.id), text);
      expect(ablation.record(run0)).toBeUndefined();
      expect(ablation.marker(run0.id)).toBeUndefined();
    }
    rmSync(ablation.recordPath(run0.id));
    fifo(`records/runs/${run0.id}.json`);
    expect(ablation.record(run0)).toBeUndefined();
    expect(() => ablation.workDir('../../victim')).toThrow('is not a run id');
  });

  it('--out into a non-empty folder that is not ours is refused (train, ablate, compile --emit wgsl, data export); nothing there changes', async () => {
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign);
    for (const f of ['settings.json', 'plan.json', 'report.html', 'index.md', 'notes.txt']) writeFileSync(join(foreign, f), `mine: ${f}`);
    const cases = [
      ['train', model, '--data', 'synthetic:motion', '--steps', '1', '--out', foreign],
      ['ablate', sweep, '--measure-only', '--out', foreign],
      ['compile', model, '--emit', 'wgsl', '--out', foreign],
      ['data', 'export', 'synthetic:motion,train=4,val=4', '--for', model, '--out', foreign],
      ['data', 'export', 'synthetic:motion,train=4,val=4', '--for', model, '--out', '.'],
    ];
    for (const args of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('is a folder with other files');
    }
    for (const f of ['settings.json', 'plan.json', 'report.html', 'index.md', 'notes.txt']) expect(readFileSync(join(foreign, f), 'utf8')).toBe(`mine: ${f}`);
  });

  it('compile --emit wgsl writes into a kernel folder of its own again, and not over a foreign index.md', async () => {
    const kernels = join(dir, 'kernels');
    expect((await run(['compile', model, '--emit', 'wgsl', '--out', kernels])).code).toBe(0);
    expect((await run(['compile', model, '--emit', 'wgsl', '--out', kernels])).code).toBe(0);
    writeFileSync(join(kernels, 'index.md'), '# my notes\n');
    const r = await run(['compile', model, '--emit', 'wgsl', '--out', kernels]);
    expect(r.code).toBe(2);
    expect(readFileSync(join(kernels, 'index.md'), 'utf8')).toBe('# my notes\n');
  });

  it('list lines that lead outside root= (../, absolute, a symlink) are refused unless outside=1', () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'clips'), { recursive: true });
    writeFileSync(join(dir, 'outside.mp4'), '');
    symlinkSync(join(dir, 'outside.mp4'), join(root, 'clips', 'link.mp4'));
    const list = join(dir, 'list.txt');
    writeFileSync(list, 'clips/a.mp4 0\n../outside.mp4 1\n/etc/passwd 0\nclips/link.mp4 1\n');
    const codes = codesOf(() => readAnnotations(list, { kind: 'videos', root }));
    expect(codes).toHaveLength(3);
    expect(codes.every((c) => c.startsWith('PST617'))).toBe(true);
    expect(codes.join('\n')).toContain(`${list}:2`);
    expect(codes.join('\n')).toContain('is a symlink to');
    expect(readAnnotations(list, { kind: 'videos', root, allowOutside: true })).toHaveLength(4);
    expect(parseDataSpec(`videos:${list},root=${root},outside=1`)).toMatchObject({ options: { outside: true } });
  });
});

describe('resources: bounded reads and caps before allocation', () => {
  it('an annotation list that is /dev/zero or a FIFO is refused at once (PST610), not read', () => {
    for (const file of ['/dev/zero', fifo('list.fifo')]) {
      const codes = codesOf(() => readAnnotations(file, { kind: 'videos' }));
      expect(codes[0]).toMatch(/^PST610 .*not a regular file/);
    }
  });

  it('--classes /dev/zero or a FIFO is a usage error naming the flag', async () => {
    for (const file of ['/dev/zero', fifo('classes.fifo')]) {
      const r = await run(['run', model, '--random-weights', '1', '--random-input', '1', '--out', join(dir, 'logits.npy'), '--classes', file]);
      expect(r.code).not.toBe(70);
      expect(r.stderr).toContain('--classes');
    }
  });

  it('data specs: clips, scale, tmpl widths and seeds are capped by name', async () => {
    for (const [spec, says] of [
      ['rawframes:a.txt,clips=100000', 'clips=100000'],
      ['rawframes:a.txt,scale=1000000', 'scale=1000000'],
      ['rawframes:a.txt,tmpl={:99999999d}', 'tmpl='],
      ['rawframes:a.txt,tmpl=../../{:05d}.jpg', 'tmpl='],
      ['npy:/dev/zero,labels.npy', '`/dev/zero` is not a .npy file'],
    ]) {
      const codes = codesOf(() => parseDataSpec(spec!));
      expect(codes[0], spec).toMatch(/^PST601/);
      expect(codes[0]).toContain(says);
    }
    const seeds = await run(['ablate', model, '--seeds', '100000000']);
    expect(seeds.code).toBe(2);
    expect(seeds.stderr).toContain('--seeds: at most 1000');
  });

  it('a labels .npy with 2^32+3 says so (not "label -1"); a clips file that is a FIFO is refused', async () => {
    const int64Npy = (values: bigint[]) => {
      let header = `{'descr': '<i8', 'fortran_order': False, 'shape': (${values.length},), }`;
      header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
      const head = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0, header.length & 255, header.length >> 8]), Buffer.from(header)]);
      return Buffer.concat([head, Buffer.from(new BigInt64Array(values).buffer)]);
    };
    const labels = join(dir, 'labels.npy');
    writeFileSync(labels, int64Npy([1n, 4294967299n]));
    const clips = join(dir, 'clips.npy');
    writeFileSync(clips, writeNpy([2, 3, 8, 32, 32], new Float32Array(2 * 3 * 8 * 32 * 32)));
    await expect(NpyDataset.open(clips, labels)).rejects.toThrow('label 4294967299 of clip 1');
    const good = join(dir, 'good-labels.npy');
    writeFileSync(good, int64Npy([1n, 0n]));
    await expect(NpyDataset.open(fifo('clips-fifo.npy'), good)).rejects.toThrow('not a regular file');
  });
});

describe('checkpoints: state.json edited or replaced', () => {
  it('negative, null or missing fields, a FIFO or /dev/zero are PST701 naming the file, never exit 70 or a NaN run', () => {
    const runDir = join(dir, 'run');
    const weights = new Map([['w', { shape: [2], data: new Float32Array([1, 2]) }]]);
    const state = { step: 4, epoch: 0, batchInEpoch: 4, seed: 0, settings: {} };
    const saved = saveCheckpoint(runDir, state, weights, new Map());
    expect(loadCheckpoint(saved).state.step).toBe(4);
    const statePath = join(saved, 'state.json');
    const original = JSON.parse(readFileSync(statePath, 'utf8'));
    for (const edit of [{ step: -100 }, { step: null }, { epoch: 1.5 }, { seed: -1 }, { settings: null }, { sha256: null }]) {
      writeFileSync(statePath, JSON.stringify({ ...original, ...edit }));
      const codes = codesOf(() => loadCheckpoint(saved));
      expect(codes[0], JSON.stringify(edit)).toMatch(/^PST701 .*state\.json/);
    }
    for (const text of ['null', '[]', '7']) {
      writeFileSync(statePath, text);
      expect(codesOf(() => loadCheckpoint(saved))[0]).toMatch(/^PST701/);
    }
    rmSync(statePath);
    symlinkSync('/dev/zero', statePath);
    expect(codesOf(() => loadCheckpoint(saved))[0]).toContain('not a regular file');
  });
});

describe('internal errors', () => {
  it('--set __proto__.x=1 and its neighbours are unknown sections or properties (PST212)', async () => {
    for (const set of ['__proto__.x=1', 'constructor.x=1', 'toString=1', '__proto__=1']) {
      const r = await run(['explain', model, '--set', set]);
      expect(r.code, set).toBe(1);
      expect(r.stderr).toContain('PST212');
    }
  });
});

describe('a run stopped by a signal, and the driver kept quiet (bin/pstc.js, as a user runs it)', () => {
  it('SIGTERM: a checkpoint, "interrupted at step N … --resume", exit 143; SIGHUP the same with 129; no Dawn warning line', async () => {
    for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
      const out = join(dir, `signal-${signal}`);
      const child = spawn(process.execPath, ['bin/pstc.js', 'train', model, '--data', 'synthetic:motion', '--steps', '100000', '--checkpoint-every', '100000', '--log-every', '1', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      const exited = new Promise<number | null>((ok) => child.on('close', (c) => ok(c)));
      await new Promise<void>((ok) => {
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (/step \d+\//.test(stderr)) ok(); // training is under way: stop it
        });
        void exited.then(() => ok());
      });
      child.kill(signal);
      expect(await exited, stderr).toBe(code);
      expect(stderr).toMatch(new RegExp(`interrupted at step (\\d+) \\(${signal}\\); resume with the same command and --resume`));
      expect(stderr).not.toContain('artificially reduced');
      const latest = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
      expect(latest.step).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe('eval: no silent wrong numbers', () => {
  it('a list without val= is evaluated through the test pipeline (read as its own validation split)', () => {
    expect(evaluationSpec('rawframes:list.txt,root=/data')).toMatchObject({ kind: 'rawframes', annotations: 'list.txt', options: { val: 'list.txt', root: '/data' } });
    expect(evaluationSpec('rawframes:a.txt,val=b.txt')).toMatchObject({ options: { val: 'b.txt' } });
    expect(evaluationSpec('synthetic:motion')).toMatchObject({ kind: 'synthetic' });
  });

  it('a NaN in a clip is an error (PST618, exit 1), not "loss NaN, top-1 25 %"', async () => {
    const { model: config } = loadModel(model, undefined, readFromDisk);
    const weights = join(dir, 'eval-weights.safetensors');
    writeFileSync(weights, writeSafetensors(initWeights(config, 0)));
    const [c, t, h, w] = [3, config.input.frames, config.input.size, config.input.size];
    const clips = new Float32Array(2 * c * t * h * w);
    clips[5] = NaN;
    writeFileSync(join(dir, 'nan-clips.npy'), writeNpy([2, c, t, h, w], clips));
    writeFileSync(join(dir, 'nan-labels.npy'), writeNpy([2], new Float32Array([0, 1])));
    const labels = readFileSync(join(dir, 'nan-labels.npy'));
    // Labels must be integers: rewrite the descr of the float32 file as int32 (same 4 bytes each).
    writeFileSync(join(dir, 'nan-labels.npy'), Buffer.from(labels.toString('latin1').replace("'<f4'", "'<i4'"), 'latin1').fill(0, labels.length - 8));
    const r = await run(['eval', model, '--weights', weights, '--data', `npy:${join(dir, 'nan-clips.npy')},${join(dir, 'nan-labels.npy')}`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('PST618');
  });
});
