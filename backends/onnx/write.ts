// The ONNX file: a ModelProto encoded by protobufjs (schema.ts). A protobuf message cannot exceed
// 2 GiB, so, as the ONNX spec provides, when the tensors would make the file larger, every
// initializer of 1 KiB or more keeps its bytes in one external data file beside the model
// (`location` relative to the model's folder, `offset` a multiple of 4096 so a runtime may map it,
// `length`), and the model holds only their names, shapes and locations.
import type { Initializer, OnnxGraph } from './builder.js';
import { DataLocation, DataType, onnxType, valueInfo, type Dim, type TensorMessage } from './schema.js';

/** ONNX IR version 8 (ONNX 1.10+) and opset 17: LayerNormalization is a standard op from 17. */
export const IR_VERSION = 8;
export const OPSET = 17;
/** The protobuf limit, less room for the graph's own messages. */
export const EXTERNAL_THRESHOLD = 2 ** 31 - 64 * 2 ** 20;
const EXTERNAL_MIN_BYTES = 1024;
const ALIGN = 4096;

export interface ModelFields {
  graphName: string;
  doc: string;
  producerVersion: string;
  metadata: Record<string, string>;
  input: { name: string; shape: readonly Dim[] };
  outputs: { name: string; shape: readonly Dim[] }[];
}

export interface EncodeOptions {
  /** Put initializers in an external data file: always, never, or (default) when over 2 GiB. */
  external?: 'always' | 'never' | 'auto';
  /** The external data file's name, relative to the model's folder (e.g. 'pst-t.onnx.data'). */
  dataLocation?: string;
}

/** The encoded model, and when external data is used, the data file's pieces in order. */
export interface EncodedModel {
  model: Uint8Array;
  external?: { location: string; pieces: Uint8Array[]; bytes: number };
}

export function encodeModel(g: OnnxGraph, fields: ModelFields, options: EncodeOptions = {}): EncodedModel {
  const total = g.initializers.reduce((s, t) => s + t.bytes.byteLength, 0);
  const mode = options.external ?? 'auto';
  const useExternal = mode === 'always' || (mode === 'auto' && total > EXTERNAL_THRESHOLD);
  if (useExternal && !options.dataLocation) throw new Error('internal: external data needs a data file name');
  const pieces: Uint8Array[] = [];
  let offset = 0;
  const tensor = (t: Initializer): TensorMessage => {
    const base = { name: t.name, dims: t.dims, data_type: t.dataType };
    if (!useExternal || t.bytes.byteLength < EXTERNAL_MIN_BYTES) return { ...base, raw_data: t.bytes };
    const padding = (ALIGN - (offset % ALIGN)) % ALIGN;
    if (padding) pieces.push(new Uint8Array(padding));
    offset += padding;
    const entry: TensorMessage = {
      ...base,
      data_location: DataLocation.EXTERNAL,
      external_data: [
        { key: 'location', value: options.dataLocation! },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(t.bytes.byteLength) },
      ],
    };
    pieces.push(t.bytes);
    offset += t.bytes.byteLength;
    return entry;
  };
  const message = {
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: OPSET }],
    producer_name: 'pstc',
    producer_version: fields.producerVersion,
    doc_string: fields.doc,
    graph: {
      name: fields.graphName,
      node: g.nodes,
      initializer: g.initializers.map(tensor),
      input: [valueInfo(fields.input.name, DataType.FLOAT, fields.input.shape)],
      output: fields.outputs.map((o) => valueInfo(o.name, DataType.FLOAT, o.shape)),
    },
    metadata_props: Object.entries(fields.metadata).map(([key, value]) => ({ key, value })),
  };
  const type = onnxType('ModelProto');
  const problem = type.verify(message);
  if (problem) throw new Error(`internal: ONNX ModelProto: ${problem}`);
  const model = type.encode(type.fromObject(message)).finish();
  return { model, ...(useExternal ? { external: { location: options.dataLocation!, pieces, bytes: offset } } : {}) };
}

/** Reads back a model's message as a plain object (tests, `pstc export` reports). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const type = onnxType('ModelProto');
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}
