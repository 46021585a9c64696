// `pstc emit-ts MODEL.pst --out model.ts`: a typed TypeScript module for one model (see
// src/explore/emit-ts.ts), for programs that use the library: shape constants, the weight names
// as a union type, and a class whose forward() checks its input.
import type { Command } from 'commander';
import { compileProgram, need } from '../../passes/pipeline.js';
import type { InputConfig, ModelConfig } from '../../lang/model.js';
import { weightSpecs, writeFileAtomic } from '../../weights/index.js';
import { UsageError } from '../errors.js';
import type { CommandRegistrar } from '../registrar.js';
import { inputFrom, withInputOptions, withModelArgument } from '../options.js';
import { loadCommandModel } from '../model.js';
import { checkOutputPath } from '../output-path.js';

interface EmitTsOptions {
  model?: string;
  out?: string;
  batch?: number;
  frames?: number;
  size?: number;
}

/** The generated module's text for `model` at this input size. */
export async function emitModelTs(model: ModelConfig, sourceFile: string, input: InputConfig): Promise<string> {
  // ts-morph carries the whole TypeScript compiler (most of a second to load): only this command needs it.
  const { emitTs, modelDocComments } = await import('../../explore/emit-ts.js');
  const graph = need(compileProgram(model, input, { until: 'lower' }), 'graph', 'emit-ts');
  const shapeOf = (id: number | undefined) => (id === undefined ? null : graph.nodes[id]!.shape);
  return emitTs({
    model,
    sourceFile,
    doc: modelDocComments(model),
    input: { ...input, channels: model.embed.inChannels },
    featuresShape: shapeOf(graph.outputs.features)!,
    logitsShape: shapeOf(graph.outputs.logits),
    weights: weightSpecs(model).map((w) => ({ name: w.name, shape: w.shape })),
  });
}

export const registerEmitTs: CommandRegistrar = (program: Command, io) => {
  withInputOptions(withModelArgument(program.command('emit-ts')))
    .description('generate a typed TypeScript module for a model: shape constants, weight names as a type, a class that runs it')
    .option('--out <model.ts>', 'where to write the module')
    .action(async (file: string, opts: EmitTsOptions) => {
      if (opts.out === undefined) throw new UsageError('--out: missing; where to write the TypeScript module');
      const { model, result } = loadCommandModel(file, opts);
      checkOutputPath({ flag: '--out', path: opts.out, kind: 'file', inputs: result.sources.keys() });
      const input = inputFrom(model, opts);
      writeFileAtomic(opts.out, await emitModelTs(model, file, input));
      io.out(`wrote ${opts.out}`);
    });
};
