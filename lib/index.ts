/**
 * torchkd: libtorch for Node.js with a typed, PyTorch-shaped API.
 *
 *   import { torch } from 'torchkd';
 *   const x = torch.randn([2, 3]);
 */
import * as torch from './torch';
import * as optim from './optim';
// The gradient helpers (clipGradNorm_, ...), also at optim.utils; to be reachable as nn.utils too.
import * as utils from './optim/utils';

export { torch, optim, utils };
export { Tensor, TorchError } from './torch';
export type { DType, Device } from './torch';