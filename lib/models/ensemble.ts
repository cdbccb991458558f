// An ensemble of classifiers as one model: the log of the members' mean probability (what multi-teacher KD's
// 'avgProbs' mode distils), for `torchkd text`'s default teacher and for any set of trained models.
import * as nn from '../nn';
import { TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';

type Classifier = nn.Module & { call(x: Tensor): Tensor };

/**
 * forward(x) = log((1/K) Σ_k softmax(member_k(x))): its argmax is the ensemble's vote by mean probability,
 * and softmax(forward(x)) the mean probability. Members are registered as `members.k`.
 */
export class Ensemble extends nn.Module {
  readonly members: nn.ModuleList;
  constructor(members: nn.Module[]) {
    super();
    if (!Array.isArray(members) || members.length === 0) throw new TorchError('Ensemble(): needs at least one member');
    this.members = this.registerModule('members', new nn.ModuleList(members));
  }
  forward(x: Tensor): Tensor {
    const k = this.members.length;
    const probs = [...this.members].map((m) => (m as Classifier).call(x).softmax(-1)).reduce((a, b) => a.add(b));
    return probs.div(k).clamp(1e-12).log();
  }
}
