// `pstc bench --data` on a set with no clips: a located data error (PST618, exit 1), not an
// internal error from a loader that never yields a batch.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { npyHeaderBytes, writeNpy } from '../../src/weights/npy.js';
import { runCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'pstc-bench-empty-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('bench --data on an empty npy set is PST618, exit 1', async () => {
  writeFileSync(join(dir, 'clips.npy'), writeNpy([0, 3, 8, 32, 32], new Float32Array(0)));
  writeFileSync(join(dir, 'labels.npy'), npyHeaderBytes('<i8', [0])); // int64 labels, none
  const r = await runCli(['bench', 'models/tiny/pst-tiny.pst', '--data', `npy:${join(dir, 'clips.npy')},${join(dir, 'labels.npy')}`, '--iters', '1', '--warmup', '1']);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toContain('PST618');
  expect(r.stderr).toContain('no clips to time the loader on');
});
