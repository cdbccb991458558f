// The `optim` namespace: optimizers, optim.lrScheduler, and the gradient helpers (also exported as `utils`).
export {
  Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad,
  type SGDOptions, type AdamOptions, type RMSpropOptions, type AdagradOptions, type OptimizerStateDict,
  type ParamState, type StateValue, type ParamGroupBase, type ParamGroupSpec, type Params, type Closure,
  type HyperValue,
} from './optimizer';
export * as lrScheduler from './lrScheduler';
export * as utils from './utils';
