// Czarnecki et al. 2017, "Sobolev Training for Neural Networks": match the teacher's input-gradients too.
import * as nn from '../nn';
import * as torch from '../torch';
import { functionArg, optionsArg, TorchError } from '../torch/errors';
import { checkTensors, tensorsOf, type Tensor } from '../torch/tensor';

export interface SobolevOptions {
  /** How many random projections to average (default 1). */
  projections?: number;
  /** Scale of the loss (default 1). */
  weight?: number;
  /** Explicit directions v, each shaped like the outputs (rows of unit norm), instead of random ones. */
  directions?: Tensor[];
}

/**
 * For unit vectors v in output space (one per sample, drawn from the global generator), the MSE between
 * ∂⟨v, student(x)⟩/∂x and ∂⟨v, teacher(x)⟩/∂x, averaged over projections and times `weight`. The student's
 * gradient keeps its graph (createGraph), so the loss trains the student. Projections make this cheap:
 * for linear maps E_v ‖(W_s − W_t)ᵀ v‖² = ‖W_s − W_t‖²_F / k with k outputs.
 */
export function sobolevLoss(studentFn: (x: Tensor) => Tensor, teacherFn: (x: Tensor) => Tensor, x: Tensor,
  options?: SobolevOptions): Tensor {
  functionArg('sobolevLoss', 'studentFn', studentFn);
  functionArg('sobolevLoss', 'teacherFn', teacherFn);
  checkTensors('sobolevLoss', { x });
  options = optionsArg('sobolevLoss', options);
  const { weight = 1 } = options;
  const directions = options.directions === undefined ? undefined : tensorsOf('sobolevLoss', 'options.directions', options.directions);
  const projections = directions?.length ?? options.projections ?? 1;
  if (!(projections >= 1)) throw new TorchError(`sobolevLoss(): projections must be at least 1, got ${projections}`);
  return torch.tidy(() => {
    const input = x.detach().requiresGrad_();
    const ys = studentFn(input);
    const yt = teacherFn(input);
    let total: Tensor | null = null;
    for (let k = 0; k < projections; k++) {
      const v = directions?.[k] ?? (() => {
        const r = torch.randnLike(ys);
        return r.div(r.square().sum(-1, { keepdim: true }).sqrt());
      })();
      const [gs] = torch.autograd.grad([ys.mul(v).sum()], [input], { createGraph: true, retainGraph: true });
      const [gt] = torch.autograd.grad([yt.mul(v).sum()], [input], { retainGraph: true });
      const term = nn.functional.mseLoss(gs, gt.detach());
      total = total === null ? term : total.add(term);
    }
    return (total as Tensor).mul(weight / projections);
  });
}
