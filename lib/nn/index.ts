// The `nn` namespace: Module, layers, containers, init, and functional (= torch.nn.functional).
import { nn as torchNn } from '../torch';

export { Module } from './module';
export type { RemovableHandle, ForwardHook, ForwardPreHook, StateDict, IncompatibleKeys, Forwardable } from './module';
export * from './layers';
export * from './containers';
export * from './loss';
export * from './attention';
export * as init from './init';
/** nn.parallel.DistributedDataParallel. */
export * as parallel from './parallel';
/** torch.nn.utils: clipGradNorm_, clipGradValue_, parametersToVector, vectorToParameters. */
export * as utils from '../optim/utils';
/** torch.nn.functional. */
export const functional = torchNn.functional;
