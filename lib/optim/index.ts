// The `optim` namespace: optimizers and optim.lrScheduler (the gradient helpers are nn.utils, as in PyTorch).
export {
  Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad,
  type SGDOptions, type AdamOptions, type RMSpropOptions, type AdagradOptions, type OptimizerStateDict,
  type ParamState, type StateValue, type ParamGroupBase, type ParamGroupSpec, type Params, type Closure,
  type HyperValue,
} from './optimizer';
export * as lrScheduler from './lrScheduler';
