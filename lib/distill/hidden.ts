// Hidden-state and attention distillation over layer maps (TinyBERT: Jiao et al. 2020; the maps are in
// layerMap.ts).
import * as nn from '../nn';
import * as torch from '../torch';
import { TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import type { LayerPair } from './layerMap';

export interface HiddenStateLossOptions {
  map: LayerPair[];
  /** 'mse' (default): mean squared error; 'cosine': 1 − cosine similarity along the last dim, averaged. */
  loss?: 'mse' | 'cosine';
  /** Applied to the student's states (e.g. an nn.Linear from student to teacher width), one for all pairs or one per pair. */
  projection?: nn.Module | nn.Module[];
}

type Callable = nn.Module & { call(x: Tensor): Tensor };

/** Σ over the map's pairs of the per-pair loss (TinyBERT sums the layer terms). */
export function hiddenStateLoss(studentHidden: Tensor[], teacherHidden: Tensor[], options: HiddenStateLossOptions): Tensor {
  const { map, loss = 'mse', projection } = options;
  return torch.tidy(() => map.map((pair, p) => {
    const s0 = studentHidden[pair.student];
    if (!s0) throw new TorchError(`hiddenStateLoss(): no student hidden state ${pair.student}`);
    const proj = Array.isArray(projection) ? projection[p] : projection;
    const s = proj ? (proj as Callable).call(s0) : s0;
    const t = pair.teacher.map((i, k) => {
      const h = teacherHidden[i];
      if (!h) throw new TorchError(`hiddenStateLoss(): no teacher hidden state ${i}`);
      return h.mul(pair.weights[k]);
    }).reduce((a, b) => a.add(b));
    if (s.size(-1) !== t.size(-1)) {
      throw new TorchError(`hiddenStateLoss(): widths differ (student ${s.size(-1)}, teacher ${t.size(-1)}): pass a projection`);
    }
    return loss === 'mse' ? nn.functional.mseLoss(s, t) : nn.functional.cosineSimilarity(s, t, { dim: -1 }).neg().add(1).mean();
  }).reduce((a, b) => a.add(b)));
}

export interface AttentionLossOptions {
  /** [B, L]: 1 (or true) where the token is real; pairs touching padding are excluded. */
  mask?: Tensor;
  /** 'mse' (default) between the maps, or 'kl': KL(t ‖ s) over keys per query (maps hold probabilities). */
  mode?: 'mse' | 'kl';
}

/**
 * Attention-map distillation for maps [B, heads, L, L]: the mean over heads and valid (query, key) pairs
 * of (s − t)² ('mse'), or the mean over heads and valid queries of Σ_keys t·(log t − log s) ('kl').
 */
export function attentionLoss(sAttn: Tensor, tAttn: Tensor, options: AttentionLossOptions = {}): Tensor {
  const { mask, mode = 'mse' } = options;
  return torch.tidy(() => {
    const [B, H, L] = sAttn.shape;
    const valid = mask ? mask.to(sAttn.dtype) : torch.ones([B, L], { dtype: sAttn.dtype, device: sAttn.device });
    const queries = valid.reshape([B, 1, L, 1]);
    const keys = valid.reshape([B, 1, 1, L]);
    if (mode === 'mse') {
      const pairs = queries.mul(keys);
      return sAttn.sub(tAttn).square().mul(pairs).sum().div(pairs.sum().mul(H));
    }
    if (mode !== 'kl') throw new TorchError(`attentionLoss(): unknown mode ${JSON.stringify(mode)} (mse | kl)`);
    const tiny = 1e-12;
    const pointwise = tAttn.mul(tAttn.clamp(tiny).log().sub(sAttn.clamp(tiny).log())).mul(keys);
    return pointwise.sum(-1).mul(queries.squeeze(-1)).sum().div(valid.sum().mul(H));
  });
}
