// The package entry (`import { compile, forward } from 'pstc'`): the library API for programs and
// the pieces of the compiler a program may want on its own — the language, the IR, the float64
// reference, the kernel plan, weights.
export { compile, loadWeights, forward, type CompileOptions, type WeightInput } from './api.js';

// The language.
export type { ModelConfig, StageConfig, BlockConfig, EmbedConfig, HeadConfig, InputConfig, PatchShift, ChannelShift, Shift, Boundary } from './lang/model.js';
export { DiagnosticError, renderDiagnostics, type Diagnostic, type Severity } from './lang/diagnostics.js';
export type { Span } from './lang/span.js';
export { checkFiles, loadModel, type CheckResult } from './lang/elaborate.js';

// The IR, the pass pipeline and the reference.
export { lowerModel, type InputSize } from './passes/lower.js';
export { foldViews } from './passes/fold.js';
export type { Graph, Node, Op } from './ir/graph.js';
export { PASSES, PASS_NAMES, compileProgram, runPipeline, startProgram, graphPass, type Pass, type PassName, type Program } from './passes/pipeline.js';
export { programToText, graphToText } from './passes/print.js';
export { interpret, type InterpretResult } from '../backends/reference/interpreter.js';

// The WebGPU backend.
export {
  openDevice,
  openDeviceFor,
  PstcDevice,
  NoAdapterError,
  DeviceLostError,
  KernelError,
  MissingFeatureError,
  adapterCapabilities,
  type DeviceLimits,
  type AdapterDescription,
  type AdapterCapabilities,
  type SubgroupMatrixConfig,
} from '../backends/webgpu/device.js';
export { PRECISIONS, type Precision } from '../backends/webgpu/precision.js';
export { maxNormRelativeError, errorAgainstReference, type ReferenceError } from '../backends/reference/error.js';
export { planModel, planProgram } from '../backends/webgpu/plan.js';
export {
  compileModel,
  type ModelInput,
  type ModelPlan,
  type KernelListing,
  type CompiledModel,
  type ForwardResult,
} from '../backends/webgpu/runtime.js';

// Weights.
export {
  initWeights,
  weightSpecs,
  readSafetensors,
  writeSafetensors,
  readNpy,
  writeNpy,
  type WeightMap,
  type TensorData,
  type WeightSpec,
} from './weights/index.js';

// Data: `--data` specs, datasets, the batch loader, the order-only metric.
export {
  parseDataSpec,
  openData,
  evaluationSet,
  closeData,
  dataInputOf,
  checkDatasetForModel,
  NpyDataset,
  MotionDataset,
  Loader,
  labelsOfPairs,
  orderOnlyCorrect,
  writeNpyDataset,
  clipStripPng,
  writeClipStripPng,
  type Dataset,
  type DataSource,
  type DataInput,
  type DataSpec,
  type ClipSample,
  type Batch,
  type LoaderOptions,
  type LoaderPosition,
} from './data/index.js';

// Training: the loop (`pstc train`), evaluation (`pstc eval`), one step for custom loops, the
// optimizer's settings and schedule, checkpoints.
export { train, orderPartners, type TrainRun, type TrainSettings, type TrainResult, type TrainProgress } from './train/trainer.js';
export { evaluate, type Evaluation, type EvaluateOptions } from './train/evaluate.js';
export { TrainingStep, type StepSetup, type StepMetrics } from './train/step.js';
export { planTraining, fitTrainingPlan, type TrainingPlan, type PlanOptions, type FittedPlan } from './train/plan.js';
export { DEFAULT_OPTIMIZER, decays, learningRate, hyperParameters, type OptimizerConfig, type OptimizerKind, type Schedule } from './train/optimizer.js';
export { saveCheckpoint, loadCheckpoint as loadTrainingCheckpoint, loadLatestCheckpoint, type Checkpoint, type TrainState } from './train/checkpoint.js';
export { loadModelWithSettings, parseSettings } from './lang/overrides.js';

// Ablations: a sweep → runs → records in a directory → a report; two models side by side.
export {
  planSweep,
  AblationDir,
  runLocal,
  runTask,
  runOneFor,
  measureOnly,
  writeReport,
  sweepStatus,
  submitArray,
  SweepProgress,
  type SweepPlan,
  type PlannedRun,
  type RunRecord,
  type RunOne,
  type Budget,
} from './explore/ablate/index.js';
export { compareModels, renderComparison, type Comparison } from './explore/compare.js';
