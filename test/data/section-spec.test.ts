// A model's data section stands for the `--data` spec of the same settings: both give the same
// spec and the same pipeline options; a spec written out as text parses back to itself.
import { describe, expect, it } from 'vitest';
import { dataSpecOfSection, formatDataSpec, parseDataSpec, pipelineOptions, type DataInput, type VideoListSpec } from '../../src/data/index.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { vfs } from '../lang/vfs.js';

const input: DataInput = { frames: 8, size: 32, channels: 3, classes: 10, temporalPatch: 2 };
const base = `model tiny {
  input { frames = 8  size = 32 }
  embed { patch = (2, 4, 4)  dim = 16 }
  window = (1, 3, 3)
  stage 1 { depth = 2  heads = 2 }
  head { classes = 10 }
}
`;

function sectionSpec(data: string, purpose: 'train' | 'eval' = 'train'): VideoListSpec {
  const { model } = loadModel('/exp/a.pst', undefined, vfs({ '/exp/a.pst': `${base}model m extends tiny { data { ${data} } }` }));
  const spec = dataSpecOfSection(model.data!, purpose);
  if (typeof spec === 'string') throw new Error(spec);
  return spec;
}

describe('data section → --data spec', () => {
  it('every setting gives the options the flag gives, and so the same pipeline', () => {
    const section = sectionSpec(
      'format = rawframes  train = "t.txt"  val = "v.txt"  root = "frames"  tmpl = "{}.png"  start = 0  sampler = dense  interval = 3  clips = 2  crops = 3 ' +
        'scale = 40  area = (0.2, 1)  aspect = (0.5, 2)  flip = 0.25  flip_map = [(1, 2), (5, 4)]  mean = (1, 2, 3)  std = (4, 5, 6)  seed = 7',
    );
    const flag = parseDataSpec(
      'rawframes:/exp/t.txt,root=/exp/frames,val=/exp/v.txt,tmpl={}.png,start=0,sampler=dense,interval=3,clips=2,crops=3,scale=40,area=0.2:1,aspect=0.5:2,flip=0.25,flip_map=1:2/5:4,mean=1:2:3,std=4:5:6,seed=7',
    );
    expect(section).toEqual(flag);
    expect(pipelineOptions('rawframes', section.options, input)).toEqual(pipelineOptions('rawframes', (flag as VideoListSpec).options, input));
  });

  it('a preset is the flag with the official settings spelled out; what neither sets takes the same default', () => {
    const sthv2 = sectionSpec('preset = sthv2  train = "t.txt"');
    const flag = parseDataSpec('videos:/exp/t.txt,sampler=uniform,clips=1,crops=3,flip=0.5,flip_map=86:87/93:94/166:167') as VideoListSpec;
    expect(sthv2).toEqual(flag);
    const options = pipelineOptions('videos', sthv2.options, input);
    expect(options).toEqual(pipelineOptions('videos', flag.options, input));
    expect(options).toMatchObject({ scale: 37, area: [0.08, 1], start: 0, interval: 1 });
    expect(options.flipMap.get(87)).toBe(86);
    const k400 = sectionSpec('preset = k400  train = "t.txt"  val = "v.txt"', 'eval');
    expect(pipelineOptions('videos', k400.options, input)).toEqual(pipelineOptions('videos', (parseDataSpec('videos:/exp/v.txt,val=/exp/v.txt,interval=2,clips=4,crops=3,sampler=dense,flip=0.5') as VideoListSpec).options, input));
  });

  it('evaluation reads val (as the validation split), else train; a section without lists says what it lacks', () => {
    expect(sectionSpec('preset = k400  train = "t.txt"  val = "v.txt"', 'eval')).toMatchObject({ annotations: '/exp/v.txt', options: { val: '/exp/v.txt' } });
    expect(sectionSpec('preset = k400  train = "t.txt"', 'eval').annotations).toBe('/exp/t.txt');
    const { model } = loadModel('/a.pst', undefined, vfs({ '/a.pst': `${base}model m extends tiny { data { preset = k400  val = "v.txt" } }` }));
    expect(dataSpecOfSection(model.data!, 'train')).toMatch(/no `train` list/);
    const { model: noFormat } = loadModel('/a.pst', undefined, vfs({ '/a.pst': `${base}model m extends tiny { data { interval = 2 } }` }));
    expect(dataSpecOfSection(noFormat.data!, 'eval')).toMatch(/no `val` or `train` list/);
  });

  it('formatDataSpec writes a spec that parses back to itself', () => {
    for (const text of [
      'npy:c.npy,l.npy',
      'synthetic:motion,classes=4,tile=1',
      'rawframes:a/t.txt,root=r,val=v.txt,tmpl={:05d}.jpg,start=0,sampler=uniform,interval=2,clips=3,crops=3,scale=40,area=0.2:1,aspect=0.5:2,flip=0,flip_map=86:87/93:94,mean=1:2:3,std=4:5:6,seed=9',
      'videos:t.txt',
    ]) {
      const spec = parseDataSpec(text);
      expect(parseDataSpec(formatDataSpec(spec))).toEqual(spec);
    }
  });

  it('mean= and std= are three numbers (std positive)', () => {
    expect(parseDataSpec('videos:t.txt,mean=0:0.5:1,std=1:2:3')).toMatchObject({ options: { mean: [0, 0.5, 1], std: [1, 2, 3] } });
    for (const bad of ['videos:t.txt,mean=1:2', 'videos:t.txt,std=1:0:1', 'videos:t.txt,mean=a:b:c']) {
      expect(() => parseDataSpec(bad)).toThrow(DiagnosticError);
    }
  });
});
