// The distinct patch-shift patterns a model uses, each tiled over the window it acts on (the
// effective window of its stage), for pictures: the ablation report draws them per variant and
// `explain --compare` lists them side by side.
import { stageMaps } from '../ir/analysis.js';
import { lowerModel } from '../passes/lower.js';
import { patternPicture, type PatternPicture } from '../ir/pattern.js';
import { effectiveWindow } from '../ir/window.js';
import type { ModelConfig, PatchShift } from '../lang/model.js';

export interface ModelPattern {
  stage: number;
  shift: PatchShift;
  picture: PatternPicture;
}

export function modelPatterns(config: ModelConfig): ModelPattern[] {
  const maps = stageMaps(lowerModel(config, { ...config.input, batch: 1 }));
  const out: ModelPattern[] = [];
  const seen = new Set<string>();
  config.stages.forEach((stage, i) => {
    for (const b of stage.blocks) {
      if (b.shift?.kind !== 'patch') continue;
      const eff = effectiveWindow(stage, { shiftWindows: false }, maps[i]!);
      const key = JSON.stringify([b.shift.grid, eff.window]);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ stage: stage.number, shift: b.shift, picture: patternPicture(b.shift, eff.window[1], eff.window[2]) });
    }
  });
  return out;
}
