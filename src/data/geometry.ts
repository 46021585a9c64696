// The geometry of mmaction2's spatial transforms (mmaction/datasets/transforms/processing.py),
// separate from pixels so that every frame of a clip gets the same box and each rule is tested
// on numbers: Resize's keep-ratio size, RandomResizedCrop's box, CenterCrop and ThreeCrop.

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** `Resize(scale=(-1, short))` with keep_ratio (mmcv.rescale_size): the short side becomes
 *  `short`, the other side scaled alike, each rounded as int(v · f + 0.5). */
export function resizeShortSide(width: number, height: number, short: number): { width: number; height: number } {
  const factor = short / Math.min(width, height);
  return { width: Math.floor(width * factor + 0.5), height: Math.floor(height * factor + 0.5) };
}

/**
 * RandomResizedCrop.get_crop_bbox: up to 10 tries of an area fraction in `area` and a log-uniform
 * aspect ratio in `aspect`; the first that fits is placed at a uniform random offset; else the
 * central square. `uniform()` is in [0, 1); `randomInt(lo, hi)` is inclusive, as Python's.
 */
export function randomResizedCropBox(
  width: number,
  height: number,
  area: readonly [number, number],
  aspect: readonly [number, number],
  uniform: () => number,
  randomInt: (lo: number, hi: number) => number,
  maxAttempts = 10,
): Box {
  // mmaction draws all the attempts' ratios, then all their areas, before trying any.
  const ratios = Array.from({ length: maxAttempts }, () => Math.exp(Math.log(aspect[0]) + (Math.log(aspect[1]) - Math.log(aspect[0])) * uniform()));
  const areas = Array.from({ length: maxAttempts }, () => (area[0] + (area[1] - area[0]) * uniform()) * width * height);
  for (let i = 0; i < maxAttempts; i++) {
    const w = Math.round(Math.sqrt(areas[i]! * ratios[i]!));
    const h = Math.round(Math.sqrt(areas[i]! / ratios[i]!));
    if (h <= height && w <= width && w > 0 && h > 0) return { x: randomInt(0, width - w), y: randomInt(0, height - h), width: w, height: h };
  }
  const size = Math.min(width, height);
  return { x: Math.floor((width - size) / 2), y: Math.floor((height - size) / 2), width: size, height: size };
}

/** CenterCrop(crop_size): the offsets floor((W − w)/2), floor((H − h)/2). */
export function centerCropBox(width: number, height: number, crop: number): Box {
  const w = Math.min(crop, width);
  const h = Math.min(crop, height);
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h };
}

/** ThreeCrop(crop_size): after a short-side resize to the crop size, three squares along the long
 *  side — in mmaction's order: start, end, centre. */
export function threeCropBoxes(width: number, height: number, crop: number): Box[] {
  if (height <= width) {
    const step = Math.floor((width - crop) / 2);
    return [0, 2 * step, step].map((x) => ({ x, y: 0, width: crop, height: Math.min(crop, height) }));
  }
  const step = Math.floor((height - crop) / 2);
  return [0, 2 * step, step].map((y) => ({ x: 0, y, width: Math.min(crop, width), height: crop }));
}
