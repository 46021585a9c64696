// `pstc emit-ts`'s generator: a typed TypeScript module for one model, written with ts-morph.
// The module exports the input shape as constants, the weight names as a union type (so a typo
// in a weight name is a type error), the shapes of the weights, the elaborated model itself (so
// the module needs no .pst file at run time), and a class whose forward() checks its input and
// calls the library (the package `pstc`). Doc comments come from the .pst file.
//
// This file knows the language and the IR; what it needs from src/weights (the weight names and
// shapes) the caller passes in as data, so that the folders keep their order.
import { IndentationText, Project, QuoteKind, Scope, StructureKind, VariableDeclarationKind, type WriterFunction } from 'ts-morph';
import type { ModelConfig } from '../lang/model.js';
import { escapeControls } from '../lang/diagnostics.js';
import { readFromDisk } from '../lang/read-disk.js';
import { parseProgram } from '../lang/parse.js';

export interface EmitTsSpec {
  model: ModelConfig;
  /** The .pst file the model came from, as the user named it (for the header). */
  sourceFile: string;
  /** Comment lines from the .pst describing the model, without their `//`. */
  doc: string[];
  input: { batch: number; channels: number; frames: number; size: number };
  featuresShape: readonly number[];
  /** null for a backbone (head = none). */
  logitsShape: readonly number[] | null;
  weights: readonly { name: string; shape: readonly number[] }[];
  /** Where the library is imported from: the package name, `pstc`. */
  packageName?: string;
}

/** `pst_t_tiny` → `PstTTiny`; sweep variants (`ratio[patch_shift.ratio=0.25]`) lose their punctuation. */
export function pascalCase(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const joined = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return /^[A-Za-z]/.test(joined) ? joined : `Model${joined}`;
}

/**
 * The comment block right above the model's declaration (lines directly adjoining it); where
 * there is none, the comment block that opens the file (its header).
 */
/** A .pst file's text as the front end reads it; throws when it cannot be read. */
function readSourceText(path: string): string {
  const text = readFromDisk(path);
  if (typeof text !== 'string') throw new Error(`cannot read ${path}`);
  return text;
}

export function modelDocComments(model: ModelConfig, readFile: (path: string) => string = readSourceText): string[] {
  const span = model.span;
  if (!span) return [];
  let text: string;
  try {
    text = readFile(span.file);
  } catch {
    return [];
  }
  const { program } = parseProgram(text, span.file);
  // Whole-line comments by line; a trailing comment after code does not describe the next line.
  const lines = text.split(/\r?\n/);
  const wholeLine = new Map<number, string>();
  for (const c of program.comments) {
    const line = c.span.startLine;
    if ((lines[line - 1] ?? '').trimStart().startsWith('//')) wholeLine.set(line, c.text);
  }
  const block = (last: number): string[] => {
    const out: string[] = [];
    for (let l = last; wholeLine.has(l); l--) out.unshift(wholeLine.get(l)!);
    return out;
  };
  let comments = block(span.startLine - 1);
  if (comments.length === 0) {
    const firstLine = lines.findIndex((l) => l.trim() !== '') + 1;
    if (wholeLine.has(firstLine)) comments = block(lastOfBlock(firstLine, wholeLine));
  }
  return comments.map((c) => c.replace(/^\/\/\s?/, '').trimEnd());
}

function lastOfBlock(first: number, wholeLine: ReadonlyMap<number, string>): number {
  let l = first;
  while (wholeLine.has(l + 1)) l++;
  return l;
}

/** The model's settings in a few lines, for the class's doc comment. */
export function settingsSummary(model: ModelConfig): string[] {
  const tuple = (t: readonly number[]) => `(${t.join(', ')})`;
  const { embed } = model;
  const lines = [`embed: patch ${tuple(embed.patch)}, dim ${embed.dim}${embed.norm ? ', layernorm' : ''}`];
  for (const s of model.stages) {
    const shifts = s.blocks.map((b) => (b.shift ? `${b.shift.kind === 'patch' ? 'tps' : 'tcs'}:${b.shift.name}` : 'none')).join(', ');
    lines.push(
      `stage ${s.number}: depth ${s.depth}, heads ${s.heads}, dim ${s.dim}, ${s.attention} ${tuple(s.window)}, ` +
        `bias frames ${s.biasFrames}; shifts ${shifts}${s.merge === 'patch_merging' && s !== model.stages[model.stages.length - 1] ? '; then patch merging' : ''}`,
    );
  }
  lines.push(model.head ? `head: ${model.head.pool} pool, ${model.head.classes} classes` : 'no head (a backbone)');
  return lines;
}

/** The elaborated model as a plain literal: spans dropped (they point into the user's files). */
function configLiteral(model: ModelConfig): string {
  const json = JSON.stringify(model, (key, value) => (key === 'span' ? undefined : value), 2);
  // Lists of numbers on one line each: a window or a grid row reads as (1, 7, 7), not as a column.
  return json.replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_m, items: string) => `[${items.split(/,\s*/).join(', ')}]`);
}

/**
 * Text from the user (a path, a name, a .pst comment) made safe inside a generated comment: no
 * line terminator (a newline, CR, U+2028/U+2029 would end a `//` comment and let the rest run as
 * code), no control character, and no `*\/` (which would end a doc comment).
 */
export const commentText = (s: string): string => escapeControls(s).replace(/\*\//g, '*\\/');
const escapeDoc = commentText;
/** A single-quoted TypeScript string literal for any text. */
export const tsString = (s: string): string => `'${escapeControls(s.replace(/\\/g, '\\\\').replace(/'/g, "\\'"))}'`;
const tupleText = (shape: readonly number[]) => `[${shape.join(', ')}] as const`;

export function emitTs(spec: EmitTsSpec): string {
  const { model, input } = spec;
  const className = pascalCase(model.name);
  const pkg = spec.packageName ?? 'pstc';
  const project = new Project({
    useInMemoryFileSystem: true,
    manipulationSettings: { indentationText: IndentationText.TwoSpaces, quoteKind: QuoteKind.Single },
  });
  const file = project.createSourceFile('model.ts');

  file.addImportDeclaration({
    moduleSpecifier: pkg,
    namedImports: ['compile', 'forward', 'type CompiledModel', 'type ForwardResult', 'type ModelConfig', 'type PstcDevice'],
  });

  const constant = (name: string, initializer: string | WriterFunction, doc: string, type?: string) =>
    file.addVariableStatement({
      isExported: true,
      declarationKind: VariableDeclarationKind.Const,
      docs: [doc],
      declarations: [{ name, initializer, ...(type ? { type } : {}) }],
    });

  constant('BATCH', String(input.batch), 'Clips per forward pass (N) the model is compiled for.');
  constant('CHANNELS', String(input.channels), 'Input channels (C).');
  constant('FRAMES', String(input.frames), 'Input frames (T).');
  constant('HEIGHT', String(input.size), 'Input height (H).');
  constant('WIDTH', String(input.size), 'Input width (W); pstc takes square frames.');
  constant('INPUT_SHAPE', tupleText([input.batch, input.channels, input.frames, input.size, input.size]), 'The clip forward() takes, N×C×T×H×W, float32 in row-major order.');
  constant('FEATURES_SHAPE', tupleText(spec.featuresShape), 'The backbone output, N×C×D×H×W (after the final norm).');
  constant(
    'LOGITS_SHAPE',
    spec.logitsShape ? tupleText(spec.logitsShape) : 'null',
    spec.logitsShape ? 'The classification head output, N×classes.' : 'The model has no classification head: forward() returns features only.',
  );

  file.addTypeAlias({
    isExported: true,
    name: 'WeightName',
    docs: [`The state-dict names of the model's ${spec.weights.length} weights; any other name is a type error.`],
    type: (w) => {
      w.indent(() => {
        for (const x of spec.weights) w.newLine().write(`| ${tsString(x.name)}`);
      });
    },
  });
  constant(
    'WEIGHT_SHAPES',
    (w) => {
      w.write('{').newLine();
      w.indent(() => {
        for (const x of spec.weights) w.write(`${tsString(x.name)}: [${x.shape.join(', ')}],`).newLine();
      });
      w.write('}');
    },
    'The shape of every weight, as a checkpoint stores it (Linear weights [out, in]).',
    'Record<WeightName, readonly number[]>',
  );
  file.addTypeAlias({
    isExported: true,
    name: 'Weights',
    docs: ['Weights by name, as the class takes them.'],
    type: 'ReadonlyMap<WeightName, { readonly shape: readonly number[]; readonly data: Float32Array }>',
  });
  constant('MODEL', configLiteral(model), 'The elaborated model, so that this module needs no .pst file at run time.', 'ModelConfig');
  constant('INPUT_LENGTH', 'INPUT_SHAPE.reduce((a, b) => a * b, 1)', 'Number of float32 values in one clip.');

  const classDoc = [
    ...spec.doc.map(escapeDoc),
    ...(spec.doc.length ? [''] : []),
    `Model \`${commentText(model.name)}\` of ${commentText(spec.sourceFile)}, compiled for WebGPU with the input INPUT_SHAPE:`,
    ...settingsSummary(model).map((l) => `- ${escapeDoc(l)}`),
  ].join('\n');

  file.addClass({
    kind: StructureKind.Class,
    isExported: true,
    name: className,
    docs: [classDoc],
    ctors: [
      {
        scope: Scope.Private,
        parameters: [{ name: 'compiled', type: 'CompiledModel', scope: Scope.Private, isReadonly: true }],
      },
    ],
    methods: [
      {
        name: 'create',
        isStatic: true,
        isAsync: true,
        docs: [
          'Compile the model on a WebGPU device with these weights: by name, or the path of a checkpoint\n' +
            '(.safetensors or PyTorch .pth). Without `device`, one is opened, and destroy() closes it.',
        ],
        parameters: [
          { name: 'weights', type: 'Weights | string' },
          { name: 'device', type: 'PstcDevice', hasQuestionToken: true },
        ],
        returnType: `Promise<${className}>`,
        statements: [
          'const compiled = await compile(MODEL, { input: { batch: BATCH, frames: FRAMES, size: HEIGHT }, weights, ...(device ? { device } : {}) });',
          `return new ${className}(compiled);`,
        ],
      },
      {
        name: 'forward',
        isAsync: true,
        docs: [
          'One forward pass of a clip of INPUT_SHAPE (N×C×T×H×W, row-major). Throws an Error when the clip\n' +
            'has another length, or when `shape` is given and differs from INPUT_SHAPE.',
        ],
        parameters: [
          { name: 'clip', type: 'Float32Array' },
          { name: 'shape', type: 'readonly number[]', hasQuestionToken: true },
        ],
        returnType: 'Promise<ForwardResult>',
        statements: [
          (w) =>
            w
              .write('if (shape !== undefined && (shape.length !== INPUT_SHAPE.length || shape.some((d, i) => d !== INPUT_SHAPE[i]))) ')
              .inlineBlock(() => {
                w.write(`throw new Error(\`${className}.forward: the clip has shape \${shape.join('×')}; the model takes \${INPUT_SHAPE.join('×')} (N×C×T×H×W)\`);`);
              }),
          (w) =>
            w.write('if (clip.length !== INPUT_LENGTH) ').inlineBlock(() => {
              w.write(
                `throw new Error(\`${className}.forward: the clip has \${clip.length} values; the model takes \${INPUT_SHAPE.join('×')} = \${INPUT_LENGTH} (N×C×T×H×W)\`);`,
              );
            }),
          'return forward(this.compiled, clip);',
        ],
      },
      {
        name: 'destroy',
        docs: ["Release the model's device buffers (and the device, if create() opened it)."],
        returnType: 'void',
        statements: ['this.compiled.destroy();'],
      },
    ],
  });
  file.formatText({ indentSize: 2, convertTabsToSpaces: true });
  file.insertStatements(0, `// Generated by \`pstc emit-ts\` from ${commentText(spec.sourceFile)} (model ${commentText(model.name)}). Do not edit: regenerate it.`);
  return file.getFullText();
}
