/**
 * torchkd: libtorch for Node.js with a typed, PyTorch-shaped API.
 *
 *   import { torch } from 'torchkd';
 *   const x = torch.randn([2, 3]);
 */
import * as torch from './torch';
import * as nn from './nn';
import * as optim from './optim';
import * as data from './data';
import * as io from './io';
import * as distill from './distill';
import * as train from './train';
import * as models from './models';
import * as report from './report';
import * as hf from './models/hf';

export { torch, nn, optim, data, io, distill, train, models, report, hf };
export { Tensor, TorchError } from './torch';
export type { DType, Device } from './torch';