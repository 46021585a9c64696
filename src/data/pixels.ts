// Pixels through sharp (libvips): decode a JPEG/PNG frame or take a decoded RGB frame, resize,
// crop, flip — each step as mmaction's transform of the same name — and write RGB bytes. libvips
// runs in libuv's thread pool, so several frames decode in parallel off the JavaScript thread.
import sharp, { type Sharp } from 'sharp';
import type { Box } from './geometry.js';

/** A frame: an image file, or raw RGB24 bytes decoded from a video. */
export type FrameInput = string | { rgb: Buffer; width: number; height: number };

function open(input: FrameInput): Sharp {
  return typeof input === 'string' ? sharp(input, { failOn: 'error' }) : sharp(input.rgb, { raw: { width: input.width, height: input.height, channels: 3 } });
}

/** Width and height without decoding the pixels (the image header, or the video's size). */
export async function frameSize(input: FrameInput): Promise<{ width: number; height: number }> {
  if (typeof input !== 'string') return { width: input.width, height: input.height };
  const meta = await open(input).metadata();
  if (!meta.width || !meta.height) throw new Error('the image has no size');
  return { width: meta.width, height: meta.height };
}

export interface FrameRecipe {
  /** Resize (both sides) before cropping: the keep-ratio short-side resize. */
  resize: { width: number; height: number };
  /** Crop in the resized frame. */
  box: Box;
  /** Horizontal flip (mmaction's Flip, direction 'horizontal'). */
  flip: boolean;
  /** Final square size (Resize((S, S), keep_ratio=False)); skipped when the crop already is. */
  size: number;
}

/** One frame through a recipe: size×size×3 RGB bytes, row-major. */
export async function renderFrame(input: FrameInput, source: { width: number; height: number }, recipe: FrameRecipe): Promise<Buffer> {
  const { resize, box, flip, size } = recipe;
  let image = open(input).removeAlpha().toColourspace('srgb');
  if (resize.width !== source.width || resize.height !== source.height) {
    image = image.resize(resize.width, resize.height, { fit: 'fill', kernel: 'linear' });
  }
  image = image.extract({ left: box.x, top: box.y, width: box.width, height: box.height });
  if (flip) image = image.flop();
  let out = await image.raw().toBuffer({ resolveWithObject: true });
  if (out.info.width !== size || out.info.height !== size) {
    out = await sharp(out.data, { raw: { width: out.info.width, height: out.info.height, channels: 3 } })
      .resize(size, size, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true });
  }
  if (out.info.channels !== 3) throw new Error(`decoded ${out.info.channels} channels, expected RGB`);
  return out.data;
}

/**
 * Encodes size×size RGB bytes as a JPEG or PNG file (fixtures, previews). JPEG at quality 100 with
 * full-resolution chroma: a fixture must carry the set it was made from. At quality 95 the DCT
 * rang on the synthetic set's sharp stripes by up to 29/255 (mean 3/255 over a clip) and pst-tiny
 * learned from those frames far slower (25 % top-1 at step 500 against 61 % on the set itself);
 * at 100 the frames are within 3.5/255 (mean 0.6/255, mostly 8-bit rounding).
 */
export async function writeImage(path: string, rgb: Buffer, width: number, height: number): Promise<void> {
  const image = sharp(rgb, { raw: { width, height, channels: 3 } });
  await (path.endsWith('.png') ? image.png() : image.jpeg({ quality: 100, chromaSubsampling: '4:4:4' })).toFile(path);
}
