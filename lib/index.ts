/**
 * torchkd: libtorch for Node.js with a typed, PyTorch-shaped API.
 *
 *   import { torch } from 'torchkd';
 *   const x = torch.randn([2, 3]);
 */
import * as torch from './torch';

export { torch };
export { Tensor, TorchError } from './torch';
export type { DType, Device } from './torch';
import * as optim from './optim';
import * as utils from './optim/utils';

export { optim, utils };
