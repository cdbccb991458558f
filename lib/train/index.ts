// The training loop: fit / Trainer (epochs or steps, evaluation, checkpoints, resume, AMP, early stopping),
// checkpoints, progress reporting, declarative runs (RunConfig, `torchkd distill --config`) and runs in
// worker threads.
export {
  Trainer, fit, evaluate, loadCheckpointWeights,
  type TrainerOptions, type TrainerEvent, type FitResult, type EvalMetrics, type BatchAugmentation, type Loader,
} from './trainer';
export { saveCheckpoint, loadCheckpoint, type CheckpointParts } from './checkpoint';
export { ProgressReporter, type ProgressMode, type ProgressStream } from './progress';
export { TrainingGroup, type DistributedTrainingOptions } from './distributed';
export { runInWorker, runConfigInWorker, type WorkerJob, type WorkerContext, type WorkerRun } from './worker';
export {
  runConfig, validateConfig, readConfig,
  type RunConfig, type RunHooks, type RunResult, type DataConfig, type SplitFiles, type ModelSource, type TeacherConfig,
  type TeacherTrainConfig, type TermConfig, type TermWeight, type AugmentConfig, type OptimizerConfig, type SchedulerConfig, type SpectralSelectionConfig, type ModelSummary,
} from './config';
export { ConfigError } from '../util/validate';
