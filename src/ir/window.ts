// The window a block really uses on a given feature map, and its cyclic shift. Video Swin's
// get_window_size: along an axis where the map is no larger than the window, the window shrinks
// to the map and that axis is not shifted (stage 4 of PST-T at 224² has a 7×7 map: no shift).
import { configuredWindow, type Triple } from '../lang/facts.js';
import type { BlockConfig, StageConfig } from '../lang/model.js';

export type { Triple };

export interface EffectiveWindow {
  /** (d, h, w) window after shrinking to the map. */
  window: Triple;
  /** (d, h, w) cyclic shift of this block's windows (0 where not shifted). */
  shift: Triple;
  /** (D, H, W) after padding up to multiples of the window. */
  padded: Triple;
  /** Number of windows along (d, h, w). */
  count: Triple;
}

/** `map` is the (D, H, W) of the block's input feature map. */
export function effectiveWindow(
  stage: Pick<StageConfig, 'attention' | 'window'>,
  block: Pick<BlockConfig, 'shiftWindows'>,
  map: Triple,
): EffectiveWindow {
  const window = [0, 0, 0] as Triple;
  const shift = [0, 0, 0] as Triple;
  const padded = [0, 0, 0] as Triple;
  const count = [0, 0, 0] as Triple;
  const windowConfigured = configuredWindow(stage);
  for (let a = 0; a < 3; a++) {
    const configured = windowConfigured[a]!;
    const size = map[a]!;
    if (size <= configured) {
      window[a] = size;
      shift[a] = 0;
    } else {
      window[a] = configured;
      shift[a] = block.shiftWindows ? Math.floor(configured / 2) : 0;
    }
    count[a] = Math.ceil(size / window[a]!);
    padded[a] = count[a]! * window[a]!;
  }
  return { window, shift, padded, count };
}
