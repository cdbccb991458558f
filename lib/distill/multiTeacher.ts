// Multi-teacher distillation (ensembles as in Hinton et al. 2015; weighted teachers as in You et al. 2017).
import * as torch from '../torch';
import { numbersArg, optionsArg, TorchError } from '../torch/errors';
import { checkTensors, tensorsOf, type Tensor } from '../torch/tensor';
import { kdLoss, reduceKl, type KdReduction } from './hinton';

export interface MultiTeacherOptions {
  /**
   * 'avgLogits': kdLoss against Σ w_k t_k; 'avgProbs' (default): T²·KL(Σ w_k softmax(t_k/T) ‖ softmax(s/T));
   * 'sumKl': Σ w_k kdLoss(s, t_k).
   */
  mode?: 'avgLogits' | 'avgProbs' | 'sumKl';
  /** Teacher weights: default 1/K for the averaging modes, 1 for 'sumKl'. */
  weights?: number[];
  /** Softmax temperature T (default 4). */
  temperature?: number;
  /** As kdLoss (default 'batchmean'). */
  reduction?: KdReduction;
}

/**
 * Distillation from K teachers. Since ∂/∂z Σ_k KL(p_k ‖ q) = Σ_k (q − p_k) = K (q − p̄), 'sumKl' with unit
 * weights has K times the gradient of 'avgProbs'.
 */
export function multiTeacherKdLoss(studentLogits: Tensor, teacherLogits: Tensor[], options?: MultiTeacherOptions): Tensor {
  checkTensors('multiTeacherKdLoss', { studentLogits });
  const teachers = tensorsOf('multiTeacherKdLoss', 'teacherLogits', teacherLogits);
  options = optionsArg('multiTeacherKdLoss', options);
  const { mode = 'avgProbs', temperature = 4, reduction = 'batchmean' } = options;
  const K = teachers.length;
  if (K === 0) throw new TorchError('multiTeacherKdLoss(): at least one teacher is needed');
  const weights = options.weights === undefined ? Array(K).fill(mode === 'sumKl' ? 1 : 1 / K) : numbersArg('multiTeacherKdLoss', 'options.weights', options.weights);
  if (weights.length !== K) throw new TorchError(`multiTeacherKdLoss(): ${weights.length} weights for ${K} teachers`);
  return torch.tidy(() => {
    if (mode === 'sumKl') {
      return teachers.map((t, k) => kdLoss(studentLogits, t, { temperature, reduction }).mul(weights[k]))
        .reduce((a, b) => a.add(b));
    }
    if (mode === 'avgLogits') {
      const mean = teachers.map((t, k) => t.mul(weights[k])).reduce((a, b) => a.add(b));
      return kdLoss(studentLogits, mean, { temperature, reduction });
    }
    if (mode !== 'avgProbs') throw new TorchError(`multiTeacherKdLoss(): unknown mode ${JSON.stringify(mode)}`);
    const p = teachers.map((t, k) => t.div(temperature).softmax(1).mul(weights[k])).reduce((a, b) => a.add(b));
    const logQ = studentLogits.div(temperature).logSoftmax(1);
    return reduceKl(p.mul(p.clamp(1e-30).log().sub(logQ)), reduction, temperature * temperature, 'multiTeacherKdLoss');
  });
}
