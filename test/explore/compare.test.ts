// `pstc explain A --compare B`: structure, cost and shift schedule side by side, differences marked.
import { describe, expect, it } from 'vitest';
import { runCli as run } from '../cli/run-cli.js';

describe('pstc explain --compare', () => {
  it('compares two files: the no-shift baseline differs in bias table, params, schedule and patterns', async () => {
    const r = await run(['explain', 'models/tiny/pst-tiny.pst', '--compare', 'models/tiny/swin2d-tiny.pst']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('pst_t_tiny (input 1×8×32²)  vs  swin2d_t_tiny (input 1×8×32²)');
    expect(r.stdout).toMatch(/^\*\s+stage 1\.bias_frames\s+16\s+1$/m);
    expect(r.stdout).toMatch(/^\s+stage 1\.depth\s+2\s+2$/m); // the same: not marked
    expect(r.stdout).toMatch(/^\*\s+total params\s+45,422\s+36,422$/m);
    expect(r.stdout).toMatch(/^\s+total MACs\s+4\.82 M\s+4\.82 M$/m);
    expect(r.stdout).toMatch(/^\*\s+stage 1 block 1\s+TPS pattern_c \(3×3, reach 4.*\s+no shift, shifted windows$/m);
    expect(r.stdout).toMatch(/w0\s+w1\s+w2\s+\|\s+\(none\)\n\s+h0\s+d\+4 d-1 d-2\s+\|/);
  });

  it('compares two variants of one sweep, as JSON too; the same network says so', async () => {
    const r = await run(['explain', 'models/tiny/ablations-tiny.pst', '--model', 'patterns_tiny.a', '--compare', 'patterns_tiny.b', '--json']);
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout);
    expect(c.schedule.filter((x: { differs: boolean }) => x.differs).map((x: { what: string }) => x.what)).toEqual(['stage 1 block 1', 'stage 2 block 1']);
    expect(c.cost.every((x: { differs: boolean }) => !x.differs)).toBe(true);
    const same = await run(['explain', 'models/tiny/ablations-tiny.pst', '--model', 'ratio_tiny[patch_shift.ratio=1]', '--compare', 'patterns_tiny.c']);
    expect(same.stdout).toContain('the same network: nothing differs');
    const bad = await run(['explain', 'models/tiny/ablations-tiny.pst', '--model', 'patterns_tiny.a', '--compare', 'patterns_tiny.zz']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('PST203');
  });
});
