// `synthetic:motion`: a built-in, order-only motion set generated on the fly at the model's input
// size. Classes come in pairs: class 2k is a motion and class 2k+1 is *exactly the same frames in
// reverse order* (right/left, down/up, clockwise/anticlockwise, approach/recede, appear/disappear),
// so only the order of frames tells a pair apart. Each motion state is held for `hold` frames (the
// model's temporal patch): a tubelet embedding sees one state, never a transition, and a model
// without interaction across tubelets that pools over time scores a clip and its reversal alike.
//
// Sample i of a split is a pure function of (seed, split, i): its own random stream (makeRandom),
// so any clip can be read alone, in any order, by any worker, and the train and val streams differ.
import { makeRandom } from '../weights/init.js';
import { clipLength, type ClipSample, type Dataset, type DataInput } from './dataset.js';
import { dataError } from './errors.js';
import type { MotionSpecOptions } from './spec.js';

export type Split = 'train' | 'val';

export const MOTION_CLASS_NAMES = [
  'move right',
  'move left',
  'move down',
  'move up',
  'rotate clockwise',
  'rotate anticlockwise',
  'approach (grow)',
  'recede (shrink)',
  'appear (fade in)',
  'disappear (fade out)',
] as const;

export interface MotionOptions {
  /** Even, 2…10: classes/2 motion pairs. */
  classes: number;
  /** Standard deviation of the background's pixel noise, in 0…1 intensity units. */
  noise: number;
  /** Frames each motion state is held for (default: the model's temporal patch). */
  hold: number;
  train: number;
  val: number;
  seed: number;
  /** 1: copies of the mover on a lattice over the whole frame, all moving alike; 0: one mover. */
  tile: number;
  /** The set's pairs are classes/2 consecutive pairs of MOTION_CLASS_NAMES from this one (0-based):
   *  `first_pair=3,classes=4` is approach/recede and appear/disappear, labelled 0–3. */
  firstPair: number;
  frames: number;
  size: number;
  channels: number;
}

export const MOTION_DEFAULTS = { noise: 0.05, train: 6000, val: 500, seed: 0, tile: 0 } as const;
/** How far (0…1 intensity) each channel of an object's colours lies from the background. */
const CONTRAST = [0.25, 0.45] as const;
/** The background's intensity in every channel. */
const BACKGROUND = 0.5;
/** Intensities (0…1) are normalised as (v − MEAN) / STD: roughly zero mean and unit variance. */
export const MOTION_MEAN = 0.5;
export const MOTION_STD = 0.125;

/** The options a spec leaves out, from the model's input; checks that frames, hold and classes fit. */
export function resolveMotionOptions(spec: MotionSpecOptions, input: DataInput): MotionOptions {
  const firstPair = spec.first_pair ?? 0;
  const maxPairs = MOTION_CLASS_NAMES.length / 2 - firstPair;
  if (maxPairs < 1) {
    throw dataError('PST606', `synthetic:motion has ${MOTION_CLASS_NAMES.length / 2} motion pairs (0 to ${MOTION_CLASS_NAMES.length / 2 - 1}), first_pair=${firstPair} is past them`, {
      hint: 'first_pair=3,classes=4 is approach/recede and appear/disappear; see docs/data.md for the pairs',
    });
  }
  const modelClasses = input.classes ?? MOTION_CLASS_NAMES.length;
  const classes = spec.classes ?? Math.min(2 * maxPairs, modelClasses - (modelClasses % 2));
  if (classes % 2 !== 0 || classes < 2 || classes > 2 * maxPairs) {
    throw dataError('PST606', `synthetic:motion cannot make ${classes} classes: its classes come in pairs (a motion and its reversal), 2 to ${2 * maxPairs}`, {
      hint: spec.classes === undefined ? `the model has ${modelClasses} classes; give synthetic:motion,classes=N with an even N ≤ ${modelClasses}` : 'write an even number of classes, e.g. classes=10',
    });
  }
  const hold = spec.hold ?? input.temporalPatch;
  if (input.frames % hold !== 0 || input.frames / hold < 2) {
    throw dataError('PST606', `synthetic:motion holds each motion state for ${hold} frames, which does not split the model's ${input.frames} frames into 2 or more states`, {
      hint: `use a frame count that is a multiple of ${hold} and at least ${2 * hold} (--frames), or set hold=N (default: the model's temporal patch, ${input.temporalPatch})`,
    });
  }
  if (input.size < 8) {
    throw dataError('PST606', `synthetic:motion needs clips of at least 8×8 pixels, the model takes ${input.size}×${input.size}`, { hint: 'give a larger --size' });
  }
  return {
    classes,
    hold,
    noise: spec.noise ?? MOTION_DEFAULTS.noise,
    train: spec.train ?? MOTION_DEFAULTS.train,
    val: spec.val ?? MOTION_DEFAULTS.val,
    seed: spec.seed ?? MOTION_DEFAULTS.seed,
    tile: spec.tile ?? MOTION_DEFAULTS.tile,
    firstPair,
    frames: input.frames,
    size: input.size,
    channels: input.channels,
  };
}

export class MotionDataset implements Dataset {
  readonly name: string;
  readonly size: number;
  readonly classes: number;
  readonly classNames: readonly string[];
  readonly orderPairs = true;
  readonly clipShape: readonly [number, number, number, number];

  constructor(
    readonly options: MotionOptions,
    readonly split: Split,
  ) {
    this.name = `synthetic:motion (${split})`;
    this.size = split === 'train' ? options.train : options.val;
    this.classes = options.classes;
    this.classNames = MOTION_CLASS_NAMES.slice(2 * options.firstPair, 2 * options.firstPair + options.classes);
    this.clipShape = [options.channels, options.frames, options.size, options.size];
  }

  async read(index: number): Promise<ClipSample> {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new RangeError(`clip index ${index} outside 0…${this.size - 1}`);
    return motionClip(this.options, this.split, index);
  }
}

/** The label of sample i: classes in turn, so every split is balanced. */
export function motionLabel(options: Pick<MotionOptions, 'classes'>, index: number): number {
  return index % options.classes;
}

type ShapeKind = 'disc' | 'square' | 'triangle' | 'cross' | 'bar';
const SHAPES: readonly ShapeKind[] = ['disc', 'square', 'triangle', 'cross', 'bar'];
/** The moving object's shape for each pair: a cue to the pair that carries no order. The rotating
 *  one is the triangle, whose turn shows (no 4-fold symmetry). */
const ROTATION_PAIR = 2;
const PAIR_SHAPES: readonly ShapeKind[] = ['disc', 'square', 'triangle', 'cross', 'bar'];
type Texture = 'stripes' | 'checker' | 'halves';

/** One object's appearance: everything but where it is, how turned, how large and how opaque. */
interface Look {
  shape: ShapeKind;
  texture: Texture;
  colourA: number[];
  colourB: number[];
  /** Texture frequency in cycles per object radius, and its direction in the object's frame. */
  frequency: number;
  textureAngle: number;
}

/** Where the object is in one motion state. Lengths in pixels, angles in radians. */
interface Pose {
  x: number;
  y: number;
  radius: number;
  angle: number;
  alpha: number;
}

/** Sample `index` of `split`, with its label. */
export function motionClip(options: MotionOptions, split: Split, index: number): ClipSample {
  const label = motionLabel(options, index);
  return { clip: renderMotion(options, split, index, label), label };
}

/**
 * Sample `index`'s scene (shapes, colours, noise, poses: drawn from (seed, split, index) and the
 * pair) with the motion of `label`: the forward motion of the pair for an even label, the same
 * states in reverse order for an odd one, each state held `hold` frames. Rendering one index
 * with labels 2k and 2k+1 gives a clip and its exact time reversal.
 */
export function renderMotion(options: MotionOptions, split: Split, index: number, label: number): Float32Array {
  const { frames, size, channels, hold } = options;
  const random = makeRandom(options.seed, `synthetic:motion/${split}/${index}`);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * random();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const pair = options.firstPair + (label >> 1);
  const states = frames / hold;

  // Background: mid grey with noise drawn anew for every state. Grey in every clip, not a random
  // colour: after a patch embedding's LayerNorm a token keeps its colour's direction, not its
  // contrast with its neighbours, so an object on a background of random colour is told from it
  // only by relations a freshly initialised model does not have (a 3-D CNN with a LayerNorm after
  // its patch convolution stays at chance on such clips and learns these; tools/train-check).
  const background = Array.from({ length: channels }, () => BACKGROUND);
  // Objects stand out from the background: each channel of each colour differs from it by
  // CONTRAST (up or down, whichever fits in 0…1), so a shape is never lost in the noise.
  const colour = () =>
    background.map((b) => {
      const delta = uniform(CONTRAST[0], CONTRAST[1]);
      const up = b + delta <= 1 && (b - delta < 0 || random() < 0.5);
      return up ? b + delta : b - delta;
    });
  const look = (shape: ShapeKind = pick(SHAPES)): Look => ({
    shape,
    texture: pick(['stripes', 'checker', 'halves'] as const),
    colourA: colour(),
    colourB: colour(),
    frequency: uniform(0.8, 2),
    textureAngle: uniform(0, 2 * Math.PI),
  });
  // A static distractor half of the time: it looks the same in every frame, so it carries no order.
  const distractor = random() < 0.5 ? { look: look(), pose: { x: uniform(0, size), y: uniform(0, size), radius: size * uniform(0.06, 0.12), angle: uniform(0, 2 * Math.PI), alpha: 1 } } : undefined;
  // The mover's shape names its pair (PAIR_SHAPES): what a motion is, is visible in any frame,
  // so every model finds the object fast; which way it goes is only in the order of the frames.
  // The spinning triangle is always striped: a checker has a quarter turn's symmetry and halves
  // a single edge, while stripes put an oriented pattern in every token the object covers.
  const drawn = look(PAIR_SHAPES[pair]);
  const mover = pair === ROTATION_PAIR ? { ...drawn, texture: 'stripes' as const } : drawn;
  const poses = forwardPoses(pair, states, size, uniform, options.tile === 1);
  const offsets = options.tile ? latticeOffsets(poses, size) : [[0, 0] as const];

  const clip = new Float32Array(clipLength([channels, frames, size, size]));
  const plane = size * size;
  const state = new Float32Array(channels * plane);
  for (let s = 0; s < states; s++) {
    // Background with noise, then the distractor, then the moving object over it.
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < channels; c++) state[c * plane + y * size + x] = background[c]! + options.noise * gaussian(random);
      }
    }
    if (distractor) paint(state, size, channels, distractor.look, distractor.pose);
    for (const [ox, oy] of offsets) paint(state, size, channels, mover, { ...poses[s]!, x: poses[s]!.x + ox, y: poses[s]!.y + oy });
    // Forward for class 2k, reversed for 2k+1: the same states, only their order differs.
    const position = label % 2 === 0 ? s : states - 1 - s;
    for (let c = 0; c < channels; c++) {
      for (let h = 0; h < hold; h++) {
        const t = position * hold + h;
        const out = clip.subarray((c * frames + t) * plane, (c * frames + t + 1) * plane);
        const src = state.subarray(c * plane, (c + 1) * plane);
        for (let p = 0; p < plane; p++) out[p] = (src[p]! - MOTION_MEAN) / MOTION_STD;
      }
    }
  }
  return clip;
}

/** The poses of pair `pair`'s forward motion (the even class), one per state. */
function forwardPoses(pair: number, states: number, size: number, uniform: (lo: number, hi: number) => number, tiled: boolean): Pose[] {
  const last = states - 1;
  const angle0 = uniform(0, 2 * Math.PI);
  const poses: Pose[] = [];
  switch (pair) {
    case 0: // move right (reversed: left)
    case 1: {
      // move down (reversed: up)
      const radius = size * uniform(0.15, 0.2);
      // Tiled, the copies repeat every 2.2 radii (0.33–0.44 of the frame): a step of 0.12–0.16
      // would be 0.27–0.48 of that period, and a lattice moved by nearly half its period looks
      // the same moved either way (aliasing), which kept translation on a plateau (PyTorch,
      // pst-tiny at init_std 0.25, order accuracy at step 500: up/down 0.74 → 0.93, left/right
      // 0.56 → 0.60, and 0.78 at step 600; docs/training.md). So tiled steps stay under 0.3 periods.
      const step = size * (tiled ? uniform(0.07, 0.1) : uniform(0.12, 0.16));
      const travel = step * last;
      const along0 = uniform(radius * 0.7, Math.max(radius * 0.7, size - radius * 0.7 - travel));
      const across = uniform(radius, size - radius);
      for (let s = 0; s < states; s++) {
        const along = along0 + step * s;
        poses.push({ x: pair === 0 ? along : across, y: pair === 0 ? across : along, radius, angle: angle0, alpha: 1 });
      }
      break;
    }
    case 2: {
      // rotate clockwise on screen (x right, y down: a growing angle turns clockwise): a large
      // striped triangle spins in place by 30–44° per state (below 60°, so its 3-fold outline and
      // its stripes' 2-fold pattern turn unambiguously). Every token on it sees the stripes'
      // orientation turn the same way — a local cue, uniform over the object as a translation's
      // velocity is. An orbit (the object circling a pivot while turning) was never learned by
      // pst-tiny in 2500 steps (its order pair stayed at 0.50): its cue, the turn of the direction
      // of motion from one state to the next, is a change of a second-order feature; this spin's
      // pair reached 0.85 by step 2250 (tools/train-check/motion.py, findings).
      const radius = size * uniform(0.26, 0.32);
      const step = (uniform(30, 44) * Math.PI) / 180;
      const x = uniform(radius, size - radius);
      const y = uniform(radius, size - radius);
      for (let s = 0; s < states; s++) poses.push({ x, y, radius, angle: angle0 + step * s, alpha: 1 });
      break;
    }
    case 3: {
      // approach: grow by a constant factor per state (reversed: recede)
      const grow = Math.pow(uniform(2, 3), 1 / last);
      const radius0 = size * uniform(0.1, 0.14);
      const far = radius0 * Math.pow(grow, last);
      const x = uniform(Math.min(far, size / 2), Math.max(size - far, size / 2));
      const y = uniform(Math.min(far, size / 2), Math.max(size - far, size / 2));
      for (let s = 0; s < states; s++) poses.push({ x, y, radius: radius0 * Math.pow(grow, s), angle: angle0, alpha: 1 });
      break;
    }
    default: {
      // appear: fade in from nearly transparent (reversed: disappear)
      const radius = size * uniform(0.2, 0.3);
      const alpha0 = uniform(0, 0.1);
      const x = uniform(radius, size - radius);
      const y = uniform(radius, size - radius);
      for (let s = 0; s < states; s++) poses.push({ x, y, radius, angle: angle0, alpha: alpha0 + ((1 - alpha0) * s) / last });
      break;
    }
  }
  return poses;
}

/** Offsets of the mover's copies: a square lattice, spaced a little over the largest diameter,
 *  reaching a spacing past every edge of the frame so the copies cover it in every state. */
function latticeOffsets(poses: readonly Pose[], size: number): (readonly [number, number])[] {
  const spacing = 2.2 * Math.max(...poses.map((p) => p.radius));
  const reach = Math.ceil((size + spacing) / spacing);
  const offsets: (readonly [number, number])[] = [];
  for (let j = -reach; j <= reach; j++) for (let i = -reach; i <= reach; i++) offsets.push([i * spacing, j * spacing]);
  return offsets;
}

/** Signed distance (negative inside) of a point in the object's frame, radius 1. */
function signedDistance(shape: ShapeKind, u: number, v: number): number {
  const box = (hw: number, hh: number) => Math.max(Math.abs(u) - hw, Math.abs(v) - hh);
  switch (shape) {
    case 'disc':
      return Math.hypot(u, v) - 1;
    case 'square':
      return box(0.8, 0.8);
    case 'bar':
      return box(1, 0.4);
    case 'cross':
      return Math.min(box(1, 0.33), box(0.33, 1));
    case 'triangle': {
      // Three half-planes at 120° (one vertex pointing along +u): rotations show on it.
      let d = -Infinity;
      for (let k = 0; k < 3; k++) {
        const a = (2 * Math.PI * k) / 3 + Math.PI;
        d = Math.max(d, u * Math.cos(a) + v * Math.sin(a) - 0.5);
      }
      return d;
    }
  }
}

/** Paints a textured object over `image` (C planes of size×size) with antialiased edges. */
function paint(image: Float32Array, size: number, channels: number, look: Look, pose: Pose): void {
  const plane = size * size;
  const cos = Math.cos(pose.angle);
  const sin = Math.sin(pose.angle);
  const tcos = Math.cos(look.textureAngle);
  const tsin = Math.sin(look.textureAngle);
  const reach = pose.radius * 1.5 + 1;
  const x0 = Math.max(0, Math.floor(pose.x - reach));
  const x1 = Math.min(size - 1, Math.ceil(pose.x + reach));
  const y0 = Math.max(0, Math.floor(pose.y - reach));
  const y1 = Math.min(size - 1, Math.ceil(pose.y + reach));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - pose.x;
      const dy = y + 0.5 - pose.y;
      // Into the object's frame: rotate by −angle, scale to radius 1.
      const u = (dx * cos + dy * sin) / pose.radius;
      const v = (-dx * sin + dy * cos) / pose.radius;
      const coverage = Math.min(1, Math.max(0, 0.5 - signedDistance(look.shape, u, v) * pose.radius));
      if (coverage === 0) continue;
      const along = u * tcos + v * tsin;
      const across = -u * tsin + v * tcos;
      const first =
        look.texture === 'stripes'
          ? Math.floor(along * look.frequency * 2) % 2 === 0
          : look.texture === 'checker'
            ? (Math.floor(along * look.frequency * 2) + Math.floor(across * look.frequency * 2)) % 2 === 0
            : along >= 0;
      const colour = first ? look.colourA : look.colourB;
      const a = coverage * pose.alpha;
      for (let c = 0; c < channels; c++) {
        const at = c * plane + y * size + x;
        image[at] = image[at]! * (1 - a) + colour[c]! * a;
      }
    }
  }
}

/** A standard normal draw (Box–Muller, one value per call: the clip's cost is elsewhere). */
function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
