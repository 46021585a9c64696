import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/lang/elaborate.js';
import { lowerModel } from '../../src/passes/lower.js';
import { costReport, principleNotes, receptiveField } from '../../src/ir/analysis.js';
import { blockTemporalOffsets, patternPicture } from '../../src/ir/pattern.js';
import { weightSpecs } from '../../src/weights/names.js';
import { patternC } from '../reference/fixtures.js';
import { readFromDisk } from '../../src/lang/read-disk.js';


describe('cost report', () => {
  it('counts exactly the spec parameters of PST-T and PST-B backbones', () => {
    const t = loadModel('models/pst-t.pst', 'pst_t', readFromDisk).model;
    const costT = costReport(lowerModel(t, { batch: 1, frames: 32, size: 224 }));
    expect(costT.total.backboneParams).toBe(28_223_622);
    expect(costT.total.params - costT.total.backboneParams).toBe(t.head!.classes * (768 + 1));
    const b = loadModel('models/pst-b.pst', 'pst_b', readFromDisk).model;
    const costB = costReport(lowerModel(b, { batch: 1, frames: 32, size: 224 }));
    expect(costB.total.backboneParams).toBe(88_655_688);
  });

  it('agrees with the weight specs part by part', () => {
    const t = loadModel('models/pst-t.pst', 'pst_t', readFromDisk).model;
    const cost = costReport(lowerModel(t, { batch: 1, frames: 32, size: 224 }));
    const specs = weightSpecs(t);
    const stage3 = specs.filter((s) => s.name.startsWith('layers.2.')).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
    expect(cost.parts.find((p) => p.part === 'stage 3')!.params).toBe(stage3);
  });

  it('counts MACs of a linear layer as rows × in × out and scales with batch', () => {
    const t = loadModel('models/tiny/pst-tiny.pst', undefined, readFromDisk).model;
    const one = costReport(lowerModel(t, { batch: 1, frames: 8, size: 32 }));
    const two = costReport(lowerModel(t, { batch: 2, frames: 8, size: 32 }));
    // Everything but the head's one row per clip scales exactly with the batch.
    for (const part of ['embed', 'stage 1', 'stage 2']) {
      expect(two.parts.find((p) => p.part === part)!.macs).toBe(2 * one.parts.find((p) => p.part === part)!.macs);
    }
    // Patch embedding: tokens × (3·2·4·4) × dim.
    const tokens = 4 * 8 * 8;
    expect(one.parts.find((p) => p.part === 'embed')!.macs).toBe(tokens * 96 * 16);
    expect(one.total.peakBytes).toBeGreaterThan(0);
    expect(one.total.peakBytes).toBeLessThanOrEqual(one.total.activationBytes);
  });
});

describe('shift pattern picture and receptive field', () => {
  it('draws pattern C as the frame each window position reads (d − s), tiled mod 3', () => {
    const p = patternPicture(patternC, 7, 7);
    expect(p.read[0]!.slice(0, 4)).toEqual([4, -1, -2, 4]);
    expect(p.read[1]![1]).toBe(-0);
    expect(p.read[2]![2]).toBe(-4);
    expect(p.read[6]![6]).toBe(4); // (6 mod 3, 6 mod 3) = (0, 0): s = −4
    expect(p.reach).toBe(4);
  });

  it('gives one TPS block with shift-back a reach of ±8 and TCS ±1', () => {
    const offsets = blockTemporalOffsets(patternC);
    expect(Math.min(...offsets)).toBe(-8);
    expect(Math.max(...offsets)).toBe(8);
    expect(blockTemporalOffsets({ ...patternC, shiftBack: false })).toEqual([-4, -3, -2, -1, 0, 1, 2, 3, 4]);
    expect(blockTemporalOffsets({ kind: 'channel', name: 't', fold: 0.125, boundary: 'keep' })).toEqual([-1, 0, 1]);
    expect(blockTemporalOffsets(null)).toEqual([0]);
  });

  it('accumulates the receptive field through the depth of PST-T', () => {
    const t = loadModel('models/pst-t.pst', 'pst_t', readFromDisk).model;
    const rf = receptiveField(lowerModel(t, { batch: 1, frames: 32, size: 224 }));
    expect(rf.map((r) => r.accumulated)).toEqual([
      [-9, 9],
      [-18, 18],
      [-45, 45],
      [-54, 54],
    ]);
    expect(rf[0]!.frames).toBe(16);
    const swin = loadModel('models/swin2d-t.pst', 'swin2d_t', readFromDisk).model;
    const rfSwin = receptiveField(lowerModel(swin, { batch: 1, frames: 32, size: 224 }));
    expect(rfSwin.at(-1)!.reachableFrames).toBe(1);
  });

  it('checks the design principles and warns where a pattern reaches past the clip', () => {
    const t = loadModel('models/pst-t.pst', 'pst_t', readFromDisk).model;
    const notes = principleNotes(lowerModel(t, { batch: 1, frames: 32, size: 224 }));
    expect(notes.filter((n) => n.severity === 'warning')).toEqual([]);
    expect(notes.some((n) => n.principle === 'even spread')).toBe(true);
    // 4 frames → 2 temporal tokens: a reach of 4 wraps around.
    const short = principleNotes(lowerModel(t, { batch: 1, frames: 4, size: 224 }));
    expect(short.some((n) => n.severity === 'warning' && n.principle === 'temporal reach')).toBe(true);
  });

  it('says what a cyclic pattern that wraps really reads: pattern C on 4 temporal tokens', () => {
    const tiny = loadModel('models/tiny/pst-tiny.pst', undefined, readFromDisk).model;
    const reach = principleNotes(lowerModel(tiny, { batch: 1, frames: 8, size: 32 })).filter((n) => n.principle === 'temporal reach');
    // C reads d+4 d-1 d-2 / d+1 d d-3 / d+2 d+3 d-4; mod 4, into (−2, 2]: d+4 and d-4 are d, d-3 is
    // d+1, d+3 is d-1, d-2 is d+2.
    expect(reach[0]!.message).toContain('on 4 tokens the grid runs as d, d-1, d+2 / d+1, d, d+1 / d+2, d-1, d (rows; 3 of 9 cells read their own frame)');
    // On 16 tokens (32 frames) nothing wraps and nothing is said.
    const long = principleNotes(lowerModel(tiny, { batch: 1, frames: 32, size: 32 })).filter((n) => n.principle === 'temporal reach');
    expect(long.every((n) => !n.message.includes('runs as'))).toBe(true);
  });
});
