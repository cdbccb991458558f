// The distillation methods, as plain functions over tensors (one file per method).
export { kdLoss, hintonLoss, type KdOptions, type KdReduction, type HintonOptions } from './hinton';
export { dkdLoss, dkdParts, dkdWarmup, type DkdOptions } from './dkd';
export { perturbLogits, type PerturbOptions } from './noisy';
export { multiTeacherKdLoss, type MultiTeacherOptions } from './multiTeacher';
export {
  xDivergence, intraMse, adaptiveAlpha, parameterSensitivity, sensitivityBalance, intraDistillationLoss,
  type IntraDistillationOptions,
} from './intra';
export { bssWeights, bssAttack, sampleTargetClasses, selectBaseSamples, type BssAttackOptions, type BssAttackResult } from './bss';
export {
  spectralIntensity, spectralProfile, selectLayers, spectralLoss,
  type FeatureLayout, type IntensityOptions, type SelectOptions, type SpectralLossOptions,
} from './spectral';
export {
  layerMap, hiddenStateLoss, attentionLoss,
  type LayerPair, type LayerMapStrategy, type HiddenStateLossOptions, type AttentionLossOptions,
} from './hidden';
export { sobolevLoss, type SobolevOptions } from './sobolev';
export { combineSpecialists, type Specialist } from './specialists';
export * as terms from './terms';
export type { LossTerm, StepContext, ModelOutputs, FeaturePair } from './terms';
export {
  Distiller, captureLayers, spectralSelection,
  type DistillerOptions, type Teacher, type TeacherOutputSource, type BssOptions, type IntraOptions, type StepInfo, type DistillBatch,
  type SpectralSelection, type SpectralSelectionOptions,
} from './distiller';
export {
  Trainer, fit, evaluate, loadCheckpointWeights,
  type TrainerOptions, type TrainerEvent, type FitResult, type EvalMetrics, type BatchAugmentation, type Loader,
} from './trainer';
export {
  taChain, searchTeacherAssistant, interpolateWidths, interpolateDepth,
  type ChainStage, type TaChainOptions, type StageReport, type StageFitOptions, type TaSearchOptions, type TaCandidate, type TaSearchResult,
} from './taChain';
export { saveCheckpoint, loadCheckpoint, type CheckpointParts } from './checkpoint';
export { ProgressReporter, type ProgressMode, type ProgressStream } from './progress';
export { runInWorker, runConfigInWorker, type WorkerJob, type WorkerContext, type WorkerRun } from './worker';
export {
  cacheTeacher, TeacherCache, type TeacherOutputs, type CacheTeacherOptions, type TeacherCacheOpenOptions, type CacheDType,
} from './cache';
export { TextTransformer, FastText, type TextTransformerOptions, type FastTextOptions } from './textModels';
export { buildModel, resolveArch, readArch, loadWeights, type ArchConfig, type MlpArch, type CnnArch, type DataShape } from './models';
export {
  runConfig, validateConfig, readConfig,
  type RunConfig, type RunHooks, type RunResult, type DataConfig, type SplitFiles, type ModelSource, type TeacherConfig,
  type TeacherTrainConfig, type TermConfig, type TermWeight, type AugmentConfig, type OptimizerConfig, type SchedulerConfig, type SpectralSelectionConfig, type ModelSummary,
} from './config';
export { ConfigError } from './validate';
