// The weights module's public face: parameter names and shapes, file formats, initialisation, loading.
export type { TensorData, WeightMap } from './tensor.js';
export { FormatError } from './tensor.js';
export { weightSpecs, parameterCount, HEAD_PREFIX, type WeightSpec, type InitKind } from './names.js';
export { mlpHidden, biasTableRows } from '../lang/facts.js';
export { readSafetensors, writeSafetensors } from './safetensors.js';
export { readPth } from './pth.js';
export { initWeights, makeRandom } from './init.js';
export { loadCheckpoint, matchWeights, readWeightFile, canonicalName, isDerivedBuffer } from './load.js';
export { readNpy, readNpyHeader, writeNpy, npyHeaderBytes, type NpyHeader } from './npy.js';
export { writeFileAtomic, writeFileAtomicStreaming } from './atomic.js';
