// The weights module's public face: parameter names and shapes, file formats, initialisation, loading.
export type { TensorData, WeightMap, StoredTensor, StoredTensors } from './tensor.js';
export { FormatError } from './tensor.js';
export { weightSpecs, parameterCount, HEAD_PREFIX, LINEAR_INIT_STD, HEAD_INIT_STD, initChoicesOf, type WeightSpec, type InitKind, type InitChoices } from './names.js';
export { mlpHidden, biasTableRows } from '../lang/facts.js';
export { readSafetensors, indexSafetensors, writeSafetensors } from './safetensors.js';
export { readPth, indexPth } from './pth.js';
export { UnsafePickleError } from './pickle.js';
export { freshWeightsFrom, initWeights, makeRandom } from './init.js';
export { loadCheckpoint, loadCheckpointFrom, checkpointLimits, matchWeights, readWeightFile, canonicalName, isDerivedBuffer } from './load.js';
export { readNpy, readNpyHeader, writeNpy, npyHeaderBytes, nonFiniteReport, type NpyHeader } from './npy.js';
export { writeFileAtomic, writeFileAtomicStreaming } from './atomic.js';
export { bytesSource, type ByteSource } from './source.js';
export { openFileSource, withFileSource, readNpyFile } from './file-source.js';
