// The data layer's public face: `--data` specs, datasets, the loader, and writers.
export type { ClipSample, Dataset, DataSource, DataInput, SkippedSample } from './dataset.js';
export { dataInputOf, checkDatasetForModel, clipLength } from './dataset.js';
export { DATA_FLAG } from './errors.js';
export { parseDataSpec, parsePipelineOptions, SPEC_FORMS, type DataSpec, type NpySpec, type SyntheticSpec, type MotionSpecOptions } from './spec.js';
export { openData, evaluationSet, evaluationSpec, closeData } from './open.js';
export { NpyDataset, readNpyLabels } from './npy-dataset.js';
export {
  MotionDataset,
  motionClip,
  renderMotion,
  motionLabel,
  resolveMotionOptions,
  MOTION_CLASS_NAMES,
  MOTION_DEFAULTS,
  MOTION_MEAN,
  MOTION_STD,
  type MotionOptions,
  type Split,
} from './synthetic.js';
export { Loader, type Batch, type LoaderOptions, type LoaderPosition } from './loader.js';
export { defaultWorkers } from './decode-pool.js';
export { labelsOfPairs, orderOnlyCorrect } from './pairs.js';
export { writeNpyDataset, clipStripPng, writeClipStripPng, type StripOptions } from './write.js';
// Real data (mmaction2 lists): rawframes:/videos:
export { VideoPipelineDataset, openVideoList, openSingleInput, IMAGENET_MEAN, IMAGENET_STD, type PipelineOptions, type OpenVideoOptions } from './video-dataset.js';
export { pipelineOptions } from './video-spec.js';
export { dataSpecOfSection, formatDataSpec, type DataPurpose } from './section-spec.js';
export { type VideoListSpec, type VideoSpecOptions } from './spec.js';
export { type OpenDataOptions } from './open.js';
export { readAnnotations, frameFileName, type Annotation } from './annotations.js';
export { sampleFrames, trainClipOffsets, testClipOffsets, type SampleFramesOptions } from './sampling.js';
export { resizeShortSide, randomResizedCropBox, centerCropBox, threeCropBoxes, type Box } from './geometry.js';
export { ffmpegPath, probeVideo, decodeVideoFrames, encodeVideo, type VideoInfo } from './ffmpeg.js';
export { writeRawframeFolders, writeVideoFiles, clipToRgbFrames, type FixtureOptions } from './fixtures.js';
