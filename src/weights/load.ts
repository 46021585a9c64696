// Loading a checkpoint into a model: read the file (PyTorch zip or safetensors, told apart by
// content), put the names in the reference form, and check them against the model's parameters.
// Every mismatch is reported at once — missing names (PST401), unexpected names (PST402), wrong
// shapes (PST403) — so a user fixes a converted checkpoint in one round, not one name per run.
//
// Nothing is read before it is known to be needed: the file must be a regular file, its header
// (or zip directory and pickle) is read under caps sized by the model, names and shapes are
// matched against the model, and only then are the matching tensors' bytes read.
import { DiagnosticError, closestName, type Diagnostic } from '../lang/diagnostics.js';
import type { ModelConfig } from '../lang/model.js';
import { HEAD_PREFIX, weightSpecs } from './names.js';
import { UnsafePickleError } from './pickle.js';
import { indexPth, isLegacyPth, isZip, type PthLimits } from './pth.js';
import { indexSafetensors, type SafetensorsLimits } from './safetensors.js';
import { withFileSource } from './file-source.js';
import { bytesSource, type ByteSource } from './source.js';
import { FormatError, nameText, numel, shapeText, type StoredTensors, type WeightMap } from './tensor.js';

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
export function matchWeights<T extends { shape: number[] }>(raw: Map<string, T>, model: ModelConfig): { weights: Map<string, T>; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const byName = new Map<string, { original: string; tensor: T }>();
  for (const [original, tensor] of raw) {
    if (ignored(original, model)) continue;
    const name = canonicalName(original);
    const earlier = byName.get(name);
    if (earlier) {
      diagnostics.push(error('PST402', `the checkpoint holds \`${nameText(name)}\` twice (as \`${nameText(earlier.original)}\` and \`${nameText(original)}\`)`));
      continue;
    }
    byName.set(name, { original, tensor });
  }

  const specs = weightSpecs(model);
  const weights = new Map<string, T>();
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
      error('PST402', `the checkpoint has a weight \`${nameText(original)}\` ${shapeText(tensor.shape)} that the model does not`, {
        hint: guess ? `did you mean \`${guess}\`?` : undefined,
      }),
    );
  }
  return { weights, diagnostics };
}

/**
 * Caps on what reading a checkpoint for this model may cost. A checkpoint may hold more than the
 * model (Adam's exp_avg, exp_avg_sq and step per parameter, derived buffers, a head): room for
 * eight tensors per parameter; a storage may be shared by every parameter (flat buffers): room for
 * all of them in float64. Each cap is still megabytes where an attack would need gigabytes.
 */
export function checkpointLimits(model: ModelConfig): Required<PthLimits & SafetensorsLimits> {
  const specs = weightSpecs(model);
  const tensors = 64 + 8 * specs.length;
  const elements = specs.reduce((total, s) => total + numel(s.shape), 0);
  return {
    maxHeaderBytes: (64 << 10) + 1024 * tensors,
    maxPickleBytes: (1 << 20) + 1024 * tensors,
    maxDirectoryBytes: (64 << 10) + 256 * tensors,
    maxStorageBytes: (1 << 20) + 8 * elements,
  };
}

/** Reads a checkpoint and checks it against the model; throws one DiagnosticError listing every mismatch. */
export function loadCheckpoint(path: string, model: ModelConfig): WeightMap {
  return readChecked(path, () => withFileSource(path, (source) => loadCheckpointFrom(source, model, path)));
}

/** loadCheckpoint on bytes from anywhere (`path` names them in diagnostics). */
export function loadCheckpointFrom(source: ByteSource, model: ModelConfig, path: string): WeightMap {
  return readChecked(path, () => {
    const stored = indexWeightFile(source, checkpointLimits(model));
    const kept = new Map([...stored].filter(([name]) => !ignored(name, model)));
    const { weights, diagnostics } = matchWeights(kept, model);
    if (diagnostics.length) throw new DiagnosticError(diagnostics);
    // Only now, every name and shape being right, is any tensor's data read.
    const out: WeightMap = new Map();
    for (const [name, t] of weights) out.set(name, { shape: [...t.shape], data: t.load() });
    return out;
  });
}

/** A PyTorch zip checkpoint or a safetensors file, by content; `skip` names are never decoded. */
export function readWeightFile(bytes: Uint8Array, path: string, skip?: (name: string) => boolean): WeightMap {
  return readChecked(path, () => {
    const out: WeightMap = new Map();
    for (const [name, t] of indexWeightFile(bytesSource(bytes))) {
      if (!skip?.(name)) out.set(name, { shape: [...t.shape], data: t.load() });
    }
    return out;
  });
}

/** The file's tensors, unread, by its first bytes (not its extension). */
function indexWeightFile(source: ByteSource, limits: PthLimits & SafetensorsLimits = {}): StoredTensors {
  const head = source.read(0, Math.min(4, source.size));
  if (isZip(head) || isLegacyPth(head)) return indexPth(source, limits);
  return indexSafetensors(source, limits);
}

/** Reader errors become --weights diagnostics: PST405 for a pickle weights_only would refuse, PST404 for the rest. */
function readChecked<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    if (e instanceof UnsafePickleError) {
      throw new DiagnosticError([
        error('PST405', `refusing \`${path}\`: ${e.message}`, {
          hint: 'save the state dict alone (torch.save(model.state_dict(), path)) or convert it to .safetensors',
        }),
      ]);
    }
    throw new DiagnosticError([
      error('PST404', `cannot read weights from \`${path}\`: ${e.message}`, {
        hint: 'pstc reads PyTorch checkpoints saved by torch.save (PyTorch ≥ 1.6) and .safetensors files',
      }),
    ]);
  }
}

function error(code: string, message: string, extra: Partial<Diagnostic> = {}): Diagnostic {
  return { code, severity: 'error', message, flag: FLAG, ...(extra.hint ? { hint: extra.hint } : {}) };
}
