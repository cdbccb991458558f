// The native functions of native/optim.cc.
import { N as addon, type Handle } from '../torch/native';

export interface OptimNative {
  /** One parameter group's update; every param must have a grad. See native/optim.cc for the layouts. */
  optimStep(kind: 'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad', params: Handle[], states: Handle[][],
    steps: number[], hyper: number[]): void;
  optimHasGrad(params: Handle[]): boolean[];
  optimZeroGrad(params: Handle[], setToNone: boolean): void;
  clipGradNorm_(params: Handle[], maxNorm: number, normType: number, errorIfNonfinite: boolean): Handle;
  clipGradValue_(params: Handle[], clipValue: number): void;
  vectorToParameters(vec: Handle, params: Handle[]): void;
}

export const ON = addon as unknown as OptimNative;
