// The distillation methods, as plain functions over tensors (one file per method), the Distiller and its
// loss terms. The training loop is in train/, the architectures in models/.
export { kdLoss, hintonLoss, type KdOptions, type KdReduction, type KdDivergence, type HintonOptions } from './hinton';
export { dkdLoss, dkdParts, dkdWarmup, type DkdOptions } from './dkd';
export { perturbLogits, type PerturbOptions } from './noisy';
export { multiTeacherKdLoss, type MultiTeacherOptions } from './multiTeacher';
export {
  xDivergence, intraMse, adaptiveAlpha, parameterSensitivity, sensitivityBalance, intraDistillationLoss,
  type IntraDistillationOptions, type XDivergenceOptions, type IntraReduction,
} from './intra';
export { bssWeights, bssAttack, sampleTargetClasses, selectBaseSamples, type BssAttackOptions, type BssAttackResult } from './bss';
export {
  spectralIntensity, spectralProfile, selectLayers, spectralLoss, vitPatchMap,
  type FeatureLayout, type VitTokenOptions, type IntensityOptions, type SelectOptions, type SpectralLossOptions,
} from './spectral';
export { hiddenStateLoss, attentionLoss, type HiddenStateLossOptions, type AttentionLossOptions } from './hidden';
export { layerMap, initialLayers, type LayerPair, type LayerMapStrategy, type LayerMapOptions } from './layerMap';
export { sobolevLoss, type SobolevOptions } from './sobolev';
export { combineSpecialists, type Specialist } from './specialists';
export * as terms from './terms';
export type { LossTerm, StepContext, ModelOutputs, FeaturePair, EpochConvention, PairReduction } from './terms';
export * as recipes from './recipes';
export type { Recipe, TinyBertOptions } from './recipes';
export {
  Distiller, captureLayers, spectralSelection,
  type DistillerOptions, type Teacher, type TeacherOutputSource, type BssOptions, type IntraOptions, type StepInfo, type DistillBatch,
  type SpectralSelection, type SpectralSelectionOptions,
} from './distiller';
export {
  taChain, searchTeacherAssistant, interpolateWidths, interpolateDepth,
  type ChainStage, type TaChainOptions, type StageReport, type StageFitOptions, type TaSearchOptions, type TaCandidate, type TaSearchResult,
} from './taChain';
export {
  cacheTeacher, TeacherCache, type TeacherOutputs, type CacheTeacherOptions, type TeacherCacheOpenOptions, type CacheDType,
} from './cache';
