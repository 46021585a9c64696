// An ONNX graph under construction: nodes in topological order (each added after its inputs),
// initializers (weights under their state-dict names, and the constants the lowering makes: index
// tables, shapes, scalars), unique value names. Lowering (lower.ts, views.ts, attention.ts) only
// calls this; the file layout is write.ts's.
import { AttributeType, DataType, type AttributeMessage, type NodeMessage } from './schema.js';

/** A tensor stored in the model: its bytes are raw little-endian float32 or int64. */
export interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  bytes: Uint8Array;
}

/** An attribute value, typed as ONNX wants it (an integer and a float differ). */
export type Attribute =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { string: string };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function bytesOf(view: ArrayBufferView): Uint8Array {
  // ONNX raw data is little-endian; every host Node runs on today is, but say so if one is not.
  if (!LITTLE_ENDIAN) throw new Error('internal: ONNX export needs a little-endian host');
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function attribute(name: string, value: Attribute): AttributeMessage {
  if ('int' in value) return { name, type: AttributeType.INT, i: value.int };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('ints' in value) return { name, type: AttributeType.INTS, ints: [...value.ints] };
  return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value.string) };
}

export class OnnxGraph {
  readonly nodes: NodeMessage[] = [];
  readonly initializers: Initializer[] = [];
  private readonly used = new Set<string>();
  /** Shape and scalar constants by content, so each is stored once. */
  private readonly constants = new Map<string, string>();

  /** A value name not used yet, from `hint` (a module path such as 'layers.0.blocks.1.attn'). */
  fresh(hint: string): string {
    let name = hint;
    for (let k = 1; this.used.has(name); k++) name = `${hint}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Claims a name that must stay exactly as given (a graph input or output, a weight). */
  claim(name: string): string {
    if (this.used.has(name)) throw new Error(`internal: ONNX value name '${name}' used twice`);
    this.used.add(name);
    return name;
  }

  /** Adds a node with one output, named from `hint`; returns the output's name. */
  node(opType: string, inputs: readonly string[], hint: string, attributes: Record<string, Attribute> = {}, output?: string): string {
    const out = output ?? this.fresh(`${hint}/${opType}`);
    this.nodes.push({
      input: [...inputs],
      output: [out],
      name: this.fresh(`node:${out}`),
      op_type: opType,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** A float32 initializer (a weight under its own name, or a constant). */
  float(name: string, dims: readonly number[], data: Float32Array): string {
    this.initializers.push({ name, dims: [...dims], dataType: DataType.FLOAT, bytes: bytesOf(data) });
    return name;
  }

  /** An int64 initializer named from `hint` (index tables). */
  int64(hint: string, dims: readonly number[], data: BigInt64Array): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: [...dims], dataType: DataType.INT64, bytes: bytesOf(data) });
    return name;
  }

  /** A small int64 vector constant (a Reshape target, axes), stored once per content. */
  ints(values: readonly number[]): string {
    const key = `i64:${values.join(',')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = this.int64(`const_i64[${values.join(',')}]`, [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
      this.constants.set(key, name);
    }
    return name;
  }

  /** A float32 scalar constant (rank 0), stored once per value. */
  scalar(value: number): string {
    const key = `f32:${Object.is(value, -0) ? '-0' : String(value)}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = this.fresh(`const_f32(${value})`);
      this.float(name, [], Float32Array.of(value));
      this.constants.set(key, name);
    }
    return name;
  }

  reshape(x: string, shape: readonly number[], hint: string): string {
    return this.node('Reshape', [x, this.ints(shape)], hint);
  }

  transpose(x: string, perm: readonly number[], hint: string): string {
    return this.node('Transpose', [x], hint, { perm: { ints: perm } });
  }
}
