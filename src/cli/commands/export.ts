// `pstc export MODEL.pst --onnx OUT.onnx [--weights CKPT | --random-weights SEED] [--batch B
// --frames T --size S] [-m VARIANT] [--set …]`: the model's forward graph as an ONNX file
// (backends/onnx/): the graph after the passes `lower`, `fold` and `commute`, the weights as
// initializers under their official state-dict names, metadata naming pstc's version and the
// source's SHA-256. Over 2 GiB of tensors (or --external-data) the weights go to OUT.onnx.data
// beside it, as the ONNX spec's external data. Both files are written atomically, the data first.
import { writeSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { exportOnnx } from '../../../backends/onnx/export.js';
import { OPSET } from '../../../backends/onnx/write.js';
import { initWeights, loadCheckpoint, writeFileAtomic, writeFileAtomicStreaming, type WeightMap } from '../../weights/index.js';
import { UsageError } from '../errors.js';
import { exportProvenance } from '../backend.js';
import { MAX_BATCH, MAX_FRAMES, MAX_SIZE, inputFrom, nonNegativeInt, positiveInt, withModelArgument } from '../options.js';
import { loadCommandModel } from '../model.js';
import type { CommandRegistrar } from '../registrar.js';
import { checkOutputPath } from '../output-path.js';

interface ExportOptions {
  model?: string;
  set?: string[];
  onnx?: string;
  weights?: string;
  randomWeights?: number;
  batch?: number;
  frames?: number;
  size?: number;
  externalData?: boolean;
}

/** --batch B; `dynamic` is refused with the reason (the index tables are laid out per batch). */
function batchFlag(value: string): number {
  if (value.trim() === 'dynamic') {
    throw new UsageError(
      '--batch: a dynamic batch is not supported: the exported views are constant index tables over the whole batch; export one file per batch size (--batch B)',
    );
  }
  return positiveInt('--batch', MAX_BATCH)(value);
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1)} MiB`;

export const registerExport: CommandRegistrar = (program: Command, io) => {
  withModelArgument(program.command('export'))
    .description('write the forward graph of a model (or sweep variant) as an ONNX file, weights included (run it with ONNX Runtime, or `--backend onnxruntime`)')
    .option('--onnx <out.onnx>', 'where to write the ONNX model')
    .option('--weights <file>', 'checkpoint: .safetensors or PyTorch .pth (official state-dict names load as they are)')
    .option('--random-weights <seed>', 'instead of --weights: freshly initialised weights (demos, tests)', nonNegativeInt('--random-weights'))
    .option('--batch <B>', "batch size, fixed in the file (default: the model's input.batch)", batchFlag)
    .option('--frames <T>', "input frames (default: the model's input.frames)", positiveInt('--frames', MAX_FRAMES))
    .option('--size <S>', "input height = width in pixels (default: the model's input.size)", positiveInt('--size', MAX_SIZE))
    .option('--external-data', 'keep the tensors in OUT.onnx.data beside the model (automatic over 2 GiB)')
    .action(async (file: string, opts: ExportOptions) => {
      if (opts.onnx === undefined) throw new UsageError('--onnx: missing; where to write the ONNX model, e.g. --onnx model.onnx');
      if (opts.weights !== undefined && opts.randomWeights !== undefined) throw new UsageError('--weights and --random-weights: give one of them, not both');
      if (opts.weights === undefined && opts.randomWeights === undefined) {
        throw new UsageError('--weights: missing; give a checkpoint (.safetensors or .pth), or --random-weights SEED');
      }
      const { model, result } = loadCommandModel(file, opts);
      const inputs = [...result.sources.keys(), ...(opts.weights !== undefined ? [opts.weights] : [])];
      const out = opts.onnx;
      const dataPath = `${out}.data`;
      checkOutputPath({ flag: '--onnx', path: out, kind: 'file', inputs });
      if (opts.externalData) checkOutputPath({ flag: '--onnx', path: dataPath, kind: 'file', inputs });
      const input = inputFrom(model, opts);
      const weights: WeightMap = opts.weights !== undefined ? loadCheckpoint(opts.weights, model) : initWeights(model, opts.randomWeights!);
      const exported = exportOnnx(model, input, weights, {
        external: opts.externalData ? 'always' : 'auto',
        dataLocation: basename(dataPath),
        provenance: exportProvenance(file, opts),
      });
      const external = exported.external;
      if (external) {
        if (!opts.externalData) checkOutputPath({ flag: '--onnx', path: dataPath, kind: 'file', inputs });
        // The data first: a model file never names data that is not there yet.
        await writeFileAtomicStreaming(dataPath, (fd) => {
          for (const piece of external.pieces) {
            for (let at = 0; at < piece.byteLength; ) at += writeSync(fd, piece, at, piece.byteLength - at);
          }
        });
      }
      writeFileAtomic(out, exported.model);
      const shapes = exported.outputs.map((o) => `${o.name} ${o.shape.join('×')}`).join(', ');
      io.out(`wrote ${out}: ${model.name}, clip ${exported.inputShape.join('×')} → ${shapes}; ${exported.nodes} nodes, ${exported.initializers} initializers, ONNX opset ${OPSET}, ${mib(exported.model.byteLength)}`);
      if (external) io.out(`wrote ${dataPath}: external tensor data, ${mib(external.bytes)}`);
    });
};
