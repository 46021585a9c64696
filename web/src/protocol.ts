// Messages between the page (main.ts) and the compiler worker (worker.ts). Everything is plain
// data (structured clone): diagnostics flattened to positions, the explain report as the CLI's
// --json data plus its text, pictures as SVG strings.
import type { Severity } from '../../src/lang/diagnostics.js';

/** A diagnostic positioned for the editor: offsets into its file's text, lines and columns from 1. */
export interface PageDiagnostic {
  code: string;
  severity: Severity;
  message: string;
  hint?: string;
  expected?: string;
  file?: string;
  from?: number;
  to?: number;
  line?: number;
  col?: number;
}

export interface Summary {
  model: string;
  params: number;
  backboneParams: number;
  macs: number;
  activationBytes: number;
  peakBytes: number;
  plannedDeviceBytes: number;
  kernels: number;
  dispatches: number;
  /** Last stage: frames reachable from one token, of how many. */
  reachable: string;
  shifts: string[];
}

export interface Explained {
  summary: Summary;
  /** The CLI's `explain` text, as `pstc explain` prints it (no colour). */
  text: string;
  /** The cost table rows: part, output shape, params, MACs, activations, peak. */
  parts: { part: string; output: string; params: string; macs: string; activations: string; peak: string }[];
  total: { params: string; macs: string; activations: string; peak: string };
  receptiveField: { stage: number; tokens: number; block: string; accumulated: string; reachable: string }[];
  principles: { severity: string; stage: number; text: string }[];
  patterns: { title: string; svg: string; grid: string }[];
}

export type Request =
  /** `files`: the texts the user edited (the current file included), over the bundled models/. */
  | { kind: 'check'; id: number; path: string; files: Record<string, string>; model?: string; compare?: string }
  | { kind: 'format'; id: number; path: string; text: string }
  | {
      kind: 'run';
      id: number;
      path: string;
      files: Record<string, string>;
      model?: string;
      weightsSeed: number;
      clip: { seed: number } | { npy: Uint8Array; name: string };
    }
  /** The chosen model as an ONNX file (exportOnnx), with the run's seeded random weights. */
  | { kind: 'export'; id: number; path: string; files: Record<string, string>; model?: string; weightsSeed: number };

export type Reply =
  | {
      kind: 'checked';
      id: number;
      diagnostics: PageDiagnostic[];
      models: string[];
      chosen?: string;
      explained?: Explained;
      compared?: Explained;
      /** A failure of a later phase (a bug, or a model too big to plan), shown instead of the report. */
      problem?: string;
      ms: number;
    }
  | { kind: 'formatted'; id: number; text?: string; diagnostics: PageDiagnostic[] }
  /** How far a run has got (opening the device, compiling the kernels, running). */
  | { kind: 'progress'; id: number; text: string }
  | {
      kind: 'ran';
      id: number;
      adapter?: string;
      model?: string;
      logits?: number[];
      logitsShape?: number[];
      inputShape?: number[];
      compileMs?: number;
      forwardMs?: number;
      kernels?: { label: string; fuses: string[]; wgsl: string }[];
      /** Why nothing ran (no WebGPU, a mistake in the model or the clip). */
      problem?: string;
      noWebGpu?: boolean;
    }
  | {
      kind: 'exported';
      id: number;
      model?: string;
      /** The encoded ModelProto (transferred, not copied). */
      onnx?: Uint8Array;
      inputShape?: number[];
      outputs?: { name: string; shape: number[] }[];
      /** Why there is no file: the model's errors, or the export's own diagnostics (PST901). */
      diagnostics?: PageDiagnostic[];
      problem?: string;
    };
