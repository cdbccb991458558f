// Hidden-state and attention distillation over layer maps (TinyBERT: Jiao et al. 2020; the maps are in
// layerMap.ts).
import * as nn from '../nn';
import * as torch from '../torch';
import { argError, arrayArg, kindOf, objectArg, optionsArg, TorchError } from '../torch/errors';
import { checkTensors, Tensor } from '../torch/tensor';
import { checkLayerPairs, type LayerPair } from './layerMap';

export interface HiddenStateLossOptions {
  map: LayerPair[];
  /** 'mse' (default): mean squared error; 'cosine': 1 − cosine similarity along the last dim, averaged. */
  loss?: 'mse' | 'cosine';
  /** Applied to the student's states (e.g. an nn.Linear from student to teacher width), one for all pairs or one per pair. */
  projection?: nn.Module | nn.Module[];
  /**
   * `[B, L]`: 1 (or true) where the token is real. Padding positions are left out of every pair's average
   * (TextBrewer's masked hid_mse_loss and cos_loss).
   */
  mask?: Tensor;
}

type Callable = nn.Module & { call(x: Tensor): Tensor };

/** [B, L] token weights (1 = real) checked against hidden states [B, L, D]. */
function tokenMask(mask: Tensor, like: Tensor, op: string): Tensor {
  checkTensors(op, { mask });
  if (mask.dim() !== 2 || like.dim() !== 3 || mask.size(0) !== like.size(0) || mask.size(1) !== like.size(1)) {
    throw new TorchError(`${op}(): mask must be [B, L] for states [B, L, D]; got mask [${mask.shape.join(', ')}] and states [${like.shape.join(', ')}]`);
  }
  return mask.to(like.dtype);
}

/**
 * Σ over the map's pairs (TinyBERT sums the layer terms) of MSE(proj(s), Σ_k w_k t_k), the mean over every
 * element ('mse'), or the mean over positions of 1 − cosine similarity along the last dim ('cosine'). With
 * `mask`, the means run over the real tokens only: Σ_valid (s − t)² / (#valid · D) for 'mse'.
 */
export function hiddenStateLoss(studentHidden: Tensor[], teacherHidden: Tensor[], options: HiddenStateLossOptions): Tensor {
  const op = 'hiddenStateLoss';
  const { map, loss = 'mse', projection, mask } = objectArg(op, 'options', options);
  arrayArg(op, 'studentHidden', studentHidden);
  arrayArg(op, 'teacherHidden', teacherHidden);
  checkLayerPairs(op, 'options.map', map);
  if (loss !== 'mse' && loss !== 'cosine') throw new TorchError(`hiddenStateLoss(): unknown loss ${JSON.stringify(loss)} (mse | cosine)`);
  const projections = Array.isArray(projection) ? projection : map.map(() => projection);
  for (let p = 0; p < map.length; p++) {
    const proj = projections[p];
    if (proj !== undefined && !(proj instanceof nn.Module)) argError(op, `options.projection must be an nn.Module or one per pair, got ${kindOf(proj)} for pair ${p}`);
  }
  return torch.tidy(() => map.map((pair, p) => {
    const s0 = studentHidden[pair.student];
    if (!(s0 instanceof Tensor)) throw new TorchError(`hiddenStateLoss(): no student hidden state ${pair.student}`);
    const proj = projections[p];
    const s = proj ? (proj as Callable).call(s0) : s0;
    const t = pair.teacher.map((i, k) => {
      const h = teacherHidden[i];
      if (!(h instanceof Tensor)) throw new TorchError(`hiddenStateLoss(): no teacher hidden state ${i}`);
      return h.mul(pair.weights[k]);
    }).reduce((a, b) => a.add(b));
    if (s.size(-1) !== t.size(-1)) {
      throw new TorchError(`hiddenStateLoss(): widths differ (student ${s.size(-1)}, teacher ${t.size(-1)}): pass a projection`);
    }
    const perPosition = loss === 'mse'
      ? s.sub(t).square().mean(-1)
      : nn.functional.cosineSimilarity(s, t, { dim: -1 }).neg().add(1);
    if (!mask) return perPosition.mean();
    const m = tokenMask(mask, s, 'hiddenStateLoss');
    return perPosition.mul(m).sum().div(m.sum());
  }).reduce((a, b) => a.add(b)));
}

export interface AttentionLossOptions {
  /** `[B, L]`: 1 (or true) where the token is real; pairs touching padding are excluded. */
  mask?: Tensor;
  /**
   * What the maps hold and how they are compared:
   * - 'mse' (default): probabilities, mean over heads and valid (query, key) pairs of (s − t)² (TextBrewer's
   *   att_mse_loss with a mask);
   * - 'kl': probabilities, KL(t ‖ s) over keys per query, mean over heads and valid queries;
   * - 'crossEntropy': the same with −Σ_keys t log s (TextBrewer's att_ce_loss): equal gradient, the value
   *   larger by the teacher's entropy;
   * - 'tinybert': raw attention scores (before the softmax, with the additive mask); entries ≤
   *   `scoreThreshold` (the masked ones) are set to 0 on both sides, then the 'mse' mean (TinyBERT's
   *   task_distill.py: MSELoss over B·heads·L²).
   */
  mode?: 'mse' | 'kl' | 'crossEntropy' | 'tinybert';
  /** 'tinybert' mode: entries at or below this are zeroed (default −100, TinyBERT's −1e2). */
  scoreThreshold?: number;
}

/**
 * Attention-map distillation for maps [B, heads, L, L]: the mean over heads and valid (query, key) pairs
 * of (s − t)² ('mse', 'tinybert'), or the mean over heads and valid queries of Σ_keys t·(log t − log s)
 * ('kl') or −Σ_keys t·log s ('crossEntropy').
 */
export function attentionLoss(sAttn: Tensor, tAttn: Tensor, options?: AttentionLossOptions): Tensor {
  const { mask, mode = 'mse', scoreThreshold = -100 } = optionsArg('attentionLoss', options);
  checkTensors('attentionLoss', { sAttn, tAttn }, { mask });
  if (!['mse', 'kl', 'crossEntropy', 'tinybert'].includes(mode)) {
    throw new TorchError(`attentionLoss(): unknown mode ${JSON.stringify(mode)} (mse | kl | crossEntropy | tinybert)`);
  }
  return torch.tidy(() => {
    const [B, H, L] = sAttn.shape;
    const valid = mask ? mask.to(sAttn.dtype) : torch.ones([B, L], { dtype: sAttn.dtype, device: sAttn.device });
    const queries = valid.reshape([B, 1, L, 1]);
    const keys = valid.reshape([B, 1, 1, L]);
    if (mode === 'mse' || mode === 'tinybert') {
      const zeroMasked = (a: Tensor) => (mode === 'tinybert' ? a.maskedFill(a.le(scoreThreshold), 0) : a);
      const pairs = queries.mul(keys);
      return zeroMasked(sAttn).sub(zeroMasked(tAttn)).square().mul(pairs).sum().div(pairs.sum().mul(H));
    }
    const tiny = 1e-12;
    const logS = sAttn.clamp(tiny).log();
    const pointwise = (mode === 'kl' ? tAttn.mul(tAttn.clamp(tiny).log().sub(logS)) : tAttn.mul(logS).neg()).mul(keys);
    return pointwise.sum(-1).mul(queries.squeeze(-1)).sum().div(valid.sum().mul(H));
  });
}
