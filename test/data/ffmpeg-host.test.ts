// FFmpeg is started by a small helper process (src/data/ffmpeg-host.ts), not by pstc's own, whose
// size made every start slow. The helper runs what it is sent, says when a binary cannot start,
// and keeps nothing alive between runs.
import { describe, expect, it } from 'vitest';
import { runHosted } from '../../src/data/ffmpeg-host.js';

const liveHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'ProcessWrap' || r === 'PipeWrap').length;

describe('the FFmpeg helper process', () => {
  it('runs the command in a process of its own and returns its output and exit code', async () => {
    const ok = await runHosted(process.execPath, ['-e', 'process.stdout.write(String(process.ppid)); process.stderr.write("note")'], 1 << 20);
    expect(ok.code).toBe(0);
    expect(ok.spawnError).toBeUndefined();
    expect(ok.stderr).toBe('note');
    const parent = Number(ok.stdout.toString('utf8'));
    // Started by the helper, not by this process.
    expect(parent).toBeGreaterThan(0);
    expect(parent).not.toBe(process.pid);

    const failed = await runHosted(process.execPath, ['-e', 'process.exit(3)'], 1 << 20);
    expect(failed.code).toBe(3);

    // Several at once, each answered with its own output.
    const many = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => runHosted(process.execPath, ['-e', `process.stdout.write("${i}")`], 1 << 20)));
    expect(many.map((r) => r.stdout.toString('utf8'))).toEqual(['0', '1', '2', '3', '4', '5']);
    // Binary output comes back byte for byte.
    const bytes = await runHosted(process.execPath, ['-e', 'process.stdout.write(Buffer.from(Array.from({ length: 256 }, (_, i) => i)))'], 1 << 20);
    expect([...bytes.stdout]).toEqual(Array.from({ length: 256 }, (_, i) => i));
  });

  it('a binary that cannot start is reported as such, not as a failed run', async () => {
    const r = await runHosted('/nonexistent/ffmpeg', ['-version'], 1 << 20);
    expect(r.spawnError).toMatch(/ENOENT/);
  });

  it('keeps no handle alive while nothing is under way (a process that is done exits)', async () => {
    await runHosted(process.execPath, ['-e', ''], 1 << 20);
    const idle = liveHandles();
    const running = runHosted(process.execPath, ['-e', 'setTimeout(() => {}, 200)'], 1 << 20);
    expect(liveHandles()).toBeGreaterThan(idle);
    await running;
    expect(liveHandles()).toBe(idle);
  });
});
