// Heo et al. 2019, "Knowledge Distillation with Adversarial Samples Supporting Decision Boundary" (BSS).
import * as torch from '../torch';
import { functionArg, objectArg, optionsArg, TorchError } from '../torch/errors';
import { checkTensors, type Tensor } from '../torch/tensor';

/** The paper's schedules at epoch e of E: r(e) = max(3(1 − e/E), 0) + 1 and r_a(e) = max(2(1 − 4e/(3E)), 0). */
export function bssWeights(epoch: number, epochs: number): { r: number; ra: number } {
  return {
    r: Math.max(3 * (1 - epoch / epochs), 0) + 1,
    ra: Math.max(2 * (1 - (4 * epoch) / (3 * epochs)), 0),
  };
}

export interface BssAttackOptions {
  /** The class k each sample is pushed towards, int64 [B]. */
  targetClasses: Tensor;
  /** η (default 0.3). */
  stepSize?: number;
  /** Default 10. */
  maxSteps?: number;
  clampMin?: number;
  clampMax?: number;
}

export interface BssAttackResult {
  /** The boundary-supporting samples. */
  x: Tensor;
  /** bool [B]: whether the teacher's class left its original class b. */
  flipped: Tensor;
  /** Fraction of samples flipped. */
  flipRate: number;
  /** Mean gap between the teacher's two largest probabilities at the returned points. */
  top2Gap: number;
}

/**
 * With b the teacher's class at step 0 and L = f_b − f_k, each step moves every sample by
 * x ← x − η·(L + 1e-4)·∇L/‖∇L‖ (norm over the sample); a sample stops moving once the teacher's argmax
 * leaves b. Values are clamped to [clampMin, clampMax] when given.
 */
export function bssAttack(teacherFn: (x: Tensor) => Tensor, x: Tensor, options: BssAttackOptions): BssAttackResult {
  functionArg('bssAttack', 'teacherFn', teacherFn);
  const { targetClasses, stepSize = 0.3, maxSteps = 10, clampMin, clampMax } = objectArg('bssAttack', 'options', options);
  if (!targetClasses) throw new TorchError('bssAttack(): targetClasses is required');
  checkTensors('bssAttack', { x, targetClasses });
  return torch.tidy(() => {
    const B = x.size(0);
    const b = torch.noGrad(() => teacherFn(x).argmax(1));
    const k = targetClasses.reshape([B, 1]);
    const bCol = b.reshape([B, 1]);
    const perSample = [B, ...Array(x.dim() - 1).fill(1)];
    let adv = x.detach().clone();
    let moving = torch.ones([B], { dtype: 'bool', device: x.device });
    for (let step = 0; step < maxSteps; step++) {
      const next = torch.tidy(() => {
        const leaf = adv.detach().requiresGrad_();
        const out = teacherFn(leaf);
        const still = torch.logicalAnd(moving, out.argmax(1).eq(b));
        if (still.any().item() === 0) return null;
        const L = out.gather(1, bCol).sub(out.gather(1, k)).reshape([B]);
        const [g] = torch.autograd.grad([L.sum()], [leaf]);
        const norm = g.flatten(1).norm(2, 1).clamp(1e-12).reshape(perSample);
        const move = g.div(norm).mul(L.detach().add(1e-4).reshape(perSample)).mul(stepSize).mul(still.reshape(perSample).to(x.dtype));
        let moved = adv.sub(move);
        if (clampMin !== undefined || clampMax !== undefined) moved = moved.clamp(clampMin ?? null, clampMax ?? null);
        return [moved, still] as const;
      });
      if (next === null) break;
      adv.dispose();
      moving.dispose();
      [adv, moving] = next;
    }
    const probs = torch.noGrad(() => teacherFn(adv).softmax(1));
    const flipped = probs.argmax(1).ne(b);
    const { values } = probs.topk(2, 1);
    return {
      x: adv, flipped,
      flipRate: flipped.double().mean().item(),
      top2Gap: values.select(1, 0).sub(values.select(1, 1)).mean().item(),
    };
  });
}

/** Draws each sample's target class k with probability ∝ the teacher's softmax over the non-top-1 classes. */
export function sampleTargetClasses(teacherLogits: Tensor): Tensor {
  checkTensors('sampleTargetClasses', { teacherLogits });
  return torch.tidy(() => {
    const p = teacherLogits.softmax(1);
    const top = p.argmax(1, { keepdim: true });
    const rest = p.scatter(1, top, 0);
    const cdf = rest.div(rest.sum(1, { keepdim: true })).cumsum(1);
    const u = torch.rand([p.size(0), 1], { dtype: p.dtype, device: p.device });
    // The first class whose cumulative probability exceeds u (clamped for rounding at the top end).
    return cdf.lt(u).sum(1).clamp(null, p.size(1) - 1);
  });
}

/**
 * The base samples of the attack: those both networks classify correctly, largest
 * Σ_{c≠y} (p_t,c − p_s,c)² first, at most `max` (default 64). Returns their indices (int64).
 */
export function selectBaseSamples(teacherLogits: Tensor, studentLogits: Tensor, labels: Tensor,
  options?: { max?: number }): Tensor {
  checkTensors('selectBaseSamples', { teacherLogits, studentLogits, labels });
  const { max = 64 } = optionsArg('selectBaseSamples', options);
  return torch.tidy(() => {
    const pt = teacherLogits.softmax(1);
    const ps = studentLogits.softmax(1);
    const correct = torch.logicalAnd(pt.argmax(1).eq(labels), ps.argmax(1).eq(labels));
    const diff = pt.sub(ps).square().scatter(1, labels.reshape([-1, 1]), 0).sum(1);
    const candidates = correct.nonzero().reshape([-1]);
    const order = diff.indexSelect(0, candidates).argsort({ descending: true });
    return candidates.indexSelect(0, order).narrow(0, 0, Math.min(max, candidates.size(0)));
  });
}
