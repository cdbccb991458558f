// torch.float32, torch.int64, ... and PyTorch's aliases (torch.float, torch.long, ...), as dtype strings.
import { dtypeConstants as d } from './dtype';

export const {
  float32, float, float64, double, float16, half, bfloat16, int8, int16, short, int32, int, int64, long, uint8, bool, complex64, cfloat, complex128, cdouble,
} = d;
