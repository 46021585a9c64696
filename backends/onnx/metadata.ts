// What an exported ONNX file says about itself (ModelProto.metadata_props, doc_string): which pstc
// made it, from which `.pst` source (by hash, so a file can be matched to the text that made it),
// which model and input size, the input's layout and the outputs. The caller (the CLI) supplies
// the version and the sources' hashes; this module only names and formats the entries.
import type { ModelConfig } from '../../src/lang/model.js';
import { clipShape } from '../../src/lang/facts.js';
import type { InputSize } from '../../src/passes/lower.js';

export interface ExportProvenance {
  /** pstc's version (src/cli/version.ts). */
  version: string;
  /** The model's `.pst` file as given, and the SHA-256 (hex) of its bytes. */
  source?: { path: string; sha256: string };
  /** The model or sweep variant chosen (`--model`) and `--set` overrides, as given. */
  variant?: string;
  settings?: readonly string[];
  /** Where the export was made when not by the CLI (the playground says 'playground'). */
  origin?: string;
}

export function modelMetadata(model: ModelConfig, input: InputSize, passes: readonly string[], outputs: readonly string[], provenance: ExportProvenance): Record<string, string> {
  return {
    'pstc.version': provenance.version,
    'pstc.model': model.name,
    ...(provenance.origin !== undefined ? { 'pstc.origin': provenance.origin } : {}),
    ...(provenance.variant !== undefined ? { 'pstc.variant': provenance.variant } : {}),
    ...(provenance.settings?.length ? { 'pstc.settings': provenance.settings.join(' ') } : {}),
    ...(provenance.source ? { 'pstc.source': provenance.source.path, 'pstc.source_sha256': provenance.source.sha256 } : {}),
    'pstc.input': 'clip',
    'pstc.input_layout': 'NCTHW',
    'pstc.input_shape': clipShape(model, input).join('x'),
    'pstc.outputs': outputs.join(','),
    'pstc.passes': passes.join(','),
  };
}

export function modelDoc(model: ModelConfig, input: InputSize): string {
  const clip = clipShape(model, input).join('×');
  return `${model.name} exported by pstc: input 'clip' float32 N×C×T×H×W (${clip}); outputs 'logits' N×classes (when the model has a head) and 'features', the backbone output.`;
}
