// `pstc data export SPEC --for MODEL.pst --format rawframes|videos|npy --out DIR`: writes a set
// (the synthetic motion set, at the model's input size) as the files real data comes in — mmaction2
// frame folders or MP4s with their annotation lists, or an npy pair — and prints the `--data` spec
// that reads them back as the same clips. So the real-data pipelines can be tried, and trained on,
// with clips whose answer is known.
import { existsSync, mkdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import { closeData, dataInputOf, MOTION_MEAN, MOTION_STD, openData, parseDataSpec, writeNpyDataset, writeRawframeFolders, writeVideoFiles, type Dataset } from '../../data/index.js';
import { UsageError } from '../errors.js';
import { loadCommandModel } from '../model.js';
import { positiveInt, type ModelFlags } from '../options.js';
import { checkOutputPath, checkOwnFolder } from '../output-path.js';
import type { CommandRegistrar } from '../registrar.js';

type ExportFormat = 'rawframes' | 'videos' | 'npy';
const FORMATS: readonly ExportFormat[] = ['rawframes', 'videos', 'npy'];

interface ExportFlags extends ModelFlags {
  for?: string;
  format: string;
  out?: string;
  count?: number;
  image: string;
}

/** What an export wrote, and the `--data` spec that reads it back. */
export interface ExportResult {
  splits: { split: 'train' | 'val'; clips: number }[];
  spec: string;
  classes?: string;
}

/**
 * The spec that reads an exported set back as the clips it was written from: the motion set's own
 * normalisation ((v − 0.5) / 0.125, i.e. mean 127.5 and std 31.875 in 0–255 units), no resize,
 * crop or flip (a flip would turn "move right" into "move left"); its classes in reversed pairs.
 */
export function exportedSpec(format: ExportFormat, dir: string, hasVal: boolean, size: number, image: 'jpg' | 'png'): string {
  if (format === 'npy') return `npy:${join(dir, 'train_clips.npy')},${join(dir, 'train_labels.npy')}`;
  const mean = 255 * MOTION_MEAN;
  const std = 255 * MOTION_STD;
  return [
    `${format}:${join(dir, 'train.txt')}`,
    `root=${dir}`,
    ...(hasVal ? [`val=${join(dir, 'val.txt')}`] : []),
    ...(format === 'rawframes' && image === 'png' ? ['tmpl=img_{:05d}.png'] : []),
    `mean=${mean}:${mean}:${mean}`,
    `std=${std}:${std}:${std}`,
    `scale=${size}`,
    'area=1:1',
    'aspect=1:1',
    'flip=0',
    'pairs=1',
  ].join(',');
}

export async function exportData(spec: string, input: ReturnType<typeof dataInputOf>, format: ExportFormat, out: string, options: { count?: number; image: 'jpg' | 'png' }): Promise<ExportResult> {
  const parsed = parseDataSpec(spec);
  if (format !== 'npy' && parsed.kind !== 'synthetic') {
    throw new UsageError(`--format ${format}: only synthetic:motion can be written as pixels (its normalisation is known); write this set with --format npy`);
  }
  checkOwnFolder({ flag: '--out', path: out, what: 'an empty folder' });
  // The set is renamed into place over --out: never the current folder or one above it.
  const above = relative(resolve(out), process.cwd());
  if (above === '' || (!isAbsolute(above) && above !== '..' && !above.startsWith(`..${sep}`))) throw new UsageError(`--out: \`${out}\` is the current folder or one above it; give a new folder to write the set into`);
  const source = await openData(parsed, input);
  // Written beside --out and renamed into place at the end: an interrupted export leaves no
  // half-written set where a later command would read it.
  const partial = `${resolve(out)}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  try {
    const splits: ExportResult['splits'] = [];
    const sets: [('train' | 'val'), Dataset | undefined][] = [['train', source.train], ['val', source.val]];
    for (const [split, dataset] of sets) {
      if (!dataset) continue;
      const count = Math.min(options.count ?? dataset.size, dataset.size);
      const pixels = { mean: MOTION_MEAN, std: MOTION_STD, count, prefix: split };
      if (format === 'rawframes') await writeRawframeFolders(dataset, partial, join(partial, `${split}.txt`), { ...pixels, tmpl: `img_{:05d}.${options.image}` });
      else if (format === 'videos') await writeVideoFiles(dataset, partial, join(partial, `${split}.txt`), pixels);
      else await writeNpyDataset(dataset, join(partial, `${split}_clips.npy`), join(partial, `${split}_labels.npy`), count);
      splits.push({ split, clips: count });
    }
    const names = source.train.classNames;
    if (names) writeFileSync(join(partial, 'classes.txt'), `${names.join('\n')}\n`);
    if (existsSync(out)) rmdirSync(out);
    renameSync(partial, out);
    return {
      splits,
      spec: exportedSpec(format, out, format !== 'npy' && source.val !== undefined, input.size, options.image),
      ...(names ? { classes: join(out, 'classes.txt') } : {}),
    };
  } catch (e) {
    rmSync(partial, { recursive: true, force: true });
    throw e;
  } finally {
    await closeData(source);
  }
}

export const registerData: CommandRegistrar = (program: Command, io) => {
  const data = program.command('data').description('work with datasets: export a --data set as frame folders, videos or .npy');
  data
    .command('export')
    .description('write a --data set (e.g. synthetic:motion) at a model\'s input size as mmaction2 frame folders or MP4s with annotation lists, or as .npy; prints the --data spec that reads it back')
    .argument('<spec>', 'the set to write, e.g. synthetic:motion,train=600,val=100')
    .option('--for <model.pst>', 'the model whose input (frames, size, classes) the clips are made for')
    .option('-m, --model <name>', 'which model of the --for file (default: the last model declared)')
    .option('--set <PATH=VALUE>', 'change a property of the model, e.g. input.size=64 (repeatable)', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--format <format>', 'rawframes (frame folders), videos (lossless H.264 MP4) or npy', 'rawframes')
    .option('--image <kind>', 'frame files of --format rawframes: jpg (mmaction\'s default) or png (lossless)', 'jpg')
    .option('--count <N>', 'at most N clips per split', positiveInt('--count', 1e7))
    .option('--out <dir>', 'a new or empty folder: train.txt, val.txt, train/, val/, classes.txt (npy: train_clips.npy, train_labels.npy, …)')
    .action(async (spec: string, flags: ExportFlags) => {
      if (!flags.for) throw new UsageError('--for: missing; the model whose input size the clips are made for, e.g. --for models/tiny/pst-tiny.pst');
      if (!flags.out) throw new UsageError('--out: missing; the folder to write');
      if (!(FORMATS as readonly string[]).includes(flags.format)) throw new UsageError(`--format: rawframes, videos or npy, got \`${flags.format.slice(0, 40)}\``);
      if (flags.image !== 'jpg' && flags.image !== 'png') throw new UsageError(`--image: jpg or png, got \`${flags.image.slice(0, 40)}\``);
      const { model, result } = loadCommandModel(flags.for, flags);
      checkOutputPath({ flag: '--out', path: flags.out, kind: 'folder', inputs: [...result.sources.keys()] });
      const r = await exportData(spec, dataInputOf(model), flags.format as ExportFormat, flags.out, { ...(flags.count !== undefined ? { count: flags.count } : {}), image: flags.image });
      io.err(`wrote ${flags.out}: ${r.splits.map((s) => `${s.clips} ${s.split}`).join(' + ')} clips as ${flags.format}${r.classes ? `, class names in ${r.classes}` : ''}; read them back with --data:`);
      io.out(r.spec);
    });
};
