// Loading a checkpoint into a model: read the file (PyTorch zip or safetensors, told apart by
// content), put the names in the reference form, and check them against the model's parameters.
// Every mismatch is reported at once — missing names (PST401), unexpected names (PST402), wrong
// shapes (PST403) — so a user fixes a converted checkpoint in one round, not one name per run.
import { readFileSync } from 'node:fs';
import { DiagnosticError, closestName, type Diagnostic } from '../lang/diagnostics.js';
import type { ModelConfig } from '../lang/model.js';
import { HEAD_PREFIX, weightSpecs } from './names.js';
import { isZip, readPth } from './pth.js';
import { readSafetensors } from './safetensors.js';
import { FormatError, shapeText, type TensorData, type WeightMap } from './tensor.js';

const FLAG = '--weights';

/**
 * Buffers a PyTorch checkpoint holds that are not parameters: the relative position indices
 * (pstc recomputes them), Swin's precomputed attention masks, BatchNorm's counters.
 */
export function isDerivedBuffer(name: string): boolean {
  return /relative_position_index/.test(name) || /(^|\.)attn_mask$/.test(name) || name.endsWith('num_batches_tracked');
}

/** `module.` (DataParallel) and `backbone.` (mmaction recognisers) prefixes are dropped. */
export function canonicalName(name: string): string {
  let n = name.startsWith('module.') ? name.slice('module.'.length) : name;
  if (n.startsWith('backbone.')) n = n.slice('backbone.'.length);
  return n;
}

function ignored(name: string, model: ModelConfig): boolean {
  const n = canonicalName(name);
  return isDerivedBuffer(n) || (!model.head && n.startsWith('cls_head.'));
}

/**
 * Matches tensors (as a file named them) to the model's parameters. Returns the weights in the
 * order of weightSpecs, under their reference names, and a diagnostic per mismatch.
 */
export function matchWeights(raw: WeightMap, model: ModelConfig): { weights: WeightMap; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const byName = new Map<string, { original: string; tensor: TensorData }>();
  for (const [original, tensor] of raw) {
    if (ignored(original, model)) continue;
    const name = canonicalName(original);
    const earlier = byName.get(name);
    if (earlier) {
      diagnostics.push(error('PST402', `the checkpoint holds \`${name}\` twice (as \`${earlier.original}\` and \`${original}\`)`));
      continue;
    }
    byName.set(name, { original, tensor });
  }

  const specs = weightSpecs(model);
  const weights: WeightMap = new Map();
  for (const spec of specs) {
    const found = byName.get(spec.name);
    if (!found) {
      diagnostics.push(
        error('PST401', `the checkpoint has no weight \`${spec.name}\` ${shapeText(spec.shape)}`, {
          hint: spec.name.startsWith(HEAD_PREFIX)
            ? 'the checkpoint has no classification head: load it into a backbone (`head = none`) or train the head'
            : undefined,
        }),
      );
      continue;
    }
    byName.delete(spec.name);
    const { shape } = found.tensor;
    if (shape.length !== spec.shape.length || shape.some((d, i) => d !== spec.shape[i])) {
      diagnostics.push(
        error('PST403', `weight \`${spec.name}\` has shape ${shapeText(shape)} in the checkpoint; the model needs ${shapeText(spec.shape)}`),
      );
      continue;
    }
    weights.set(spec.name, found.tensor);
  }

  const expected = specs.map((s) => s.name);
  for (const [name, { original, tensor }] of byName) {
    const guess = closestName(name, expected);
    diagnostics.push(
      error('PST402', `the checkpoint has a weight \`${original}\` ${shapeText(tensor.shape)} that the model does not`, {
        hint: guess ? `did you mean \`${guess}\`?` : undefined,
      }),
    );
  }
  return { weights, diagnostics };
}

/** Reads a checkpoint and checks it against the model; throws one DiagnosticError listing every mismatch. */
export function loadCheckpoint(path: string, model: ModelConfig): WeightMap {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new DiagnosticError([error('PST404', `cannot read weights from \`${path}\`: ${reason}`)]);
  }
  const raw = readWeightFile(bytes, path, (name) => ignored(name, model));
  const { weights, diagnostics } = matchWeights(raw, model);
  if (diagnostics.length) throw new DiagnosticError(diagnostics);
  return weights;
}

/** A PyTorch zip checkpoint or a safetensors file, by content; `skip` names are never decoded. */
export function readWeightFile(bytes: Uint8Array, path: string, skip?: (name: string) => boolean): WeightMap {
  const kind = isZip(bytes) ? 'PyTorch checkpoint' : 'safetensors file';
  try {
    return isZip(bytes) ? readPth(bytes, { skip }) : readSafetensors(bytes, { skip });
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    throw new DiagnosticError([
      error('PST404', `cannot read \`${path}\` as a ${kind}: ${e.message}`, {
        hint: 'pstc reads PyTorch checkpoints saved by torch.save (PyTorch ≥ 1.6) and .safetensors files',
      }),
    ]);
  }
}

function error(code: string, message: string, extra: Partial<Diagnostic> = {}): Diagnostic {
  return { code, severity: 'error', message, flag: FLAG, ...(extra.hint ? { hint: extra.hint } : {}) };
}
