// Hinton, Vinyals & Dean 2015, section 5: combining a generalist with specialist models.
import * as torch from '../torch';
import { arrayArg, numbersArg, objectArg, optionsArg, TorchError } from '../torch/errors';
import { checkTensors, type Tensor } from '../torch/tensor';

export interface Specialist {
  /** The classes the specialist covers (indices into the generalist's classes). */
  classes: number[];
  /** `[B, classes.length + 1]`: probabilities over its classes, then the dustbin (all other classes). */
  probs: Tensor;
}

/** q's distribution as a specialist sees it: its classes, then the sum over the rest (the dustbin). */
function merged(q: Tensor, classes: Tensor, dustbinMask: Tensor): Tensor {
  return torch.cat([q.indexSelect(1, classes), q.mul(dustbinMask).sum(1, { keepdim: true })], 1);
}

/**
 * q = softmax(z) minimising KL(p_g ‖ q) + Σ_m KL(p_m ‖ q_m), q_m being q with the classes outside
 * specialist m merged into its dustbin, found by gradient descent on z from log p_g (`steps`, `lr`).
 * A specialist that agrees with the generalist leaves q = p_g.
 */
export function combineSpecialists(generalistProbs: Tensor, specialists: Specialist[],
  options?: { steps?: number; lr?: number }): Tensor {
  const op = 'combineSpecialists';
  checkTensors(op, { generalistProbs });
  arrayArg(op, 'specialists', specialists);
  for (let m = 0; m < specialists.length; m++) {
    const s = objectArg(op, `specialists[${m}]`, specialists[m]);
    numbersArg(op, `specialists[${m}].classes`, s.classes, true);
    checkTensors(op, { [`specialists[${m}].probs`]: s.probs });
  }
  const { steps = 500, lr = 1 } = optionsArg(op, options);
  const C = generalistProbs.size(1);
  return torch.tidy(() => {
    const tiny = 1e-30;
    const prepared = specialists.map((s, m) => {
      if (s.probs.size(1) !== s.classes.length + 1) {
        throw new TorchError(`combineSpecialists(): specialist ${m} has ${s.probs.size(1)} probabilities for ${s.classes.length} classes + dustbin`);
      }
      const classes = torch.tensor(s.classes, { dtype: 'int64', device: generalistProbs.device });
      const dustbin = torch.ones([C], { dtype: generalistProbs.dtype, device: generalistProbs.device }).indexPut_([classes], 0);
      return { classes, dustbin, p: s.probs, logP: s.probs.clamp(tiny).log() };
    });
    const logPg = generalistProbs.clamp(tiny).log();
    const objective = (z: Tensor) => {
      const logQ = z.logSoftmax(1);
      let total = generalistProbs.mul(logPg.sub(logQ)).sum();
      for (const s of prepared) {
        const qm = merged(logQ.exp(), s.classes, s.dustbin);
        total = total.add(s.p.mul(s.logP.sub(qm.clamp(tiny).log())).sum());
      }
      return total;
    };
    let z = logPg.detach().clone();
    for (let i = 0; i < steps; i++) {
      const next = torch.tidy(() => {
        const leaf = z.detach().requiresGrad_();
        const [g] = torch.autograd.grad([objective(leaf)], [leaf]);
        return leaf.detach().sub(g.mul(lr));
      });
      z.dispose();
      z = next;
    }
    return z.softmax(1);
  });
}
