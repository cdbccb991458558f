// Heo et al. 2019, "Knowledge Distillation with Adversarial Samples Supporting Decision Boundary" (BSS).

/** The paper's schedules at epoch e of E: r(e) = max(3(1 − e/E), 0) + 1 and r_a(e) = max(2(1 − 4e/(3E)), 0). */
export function bssWeights(epoch: number, epochs: number): { r: number; ra: number } {
  return {
    r: Math.max(3 * (1 - epoch / epochs), 0) + 1,
    ra: Math.max(2 * (1 - (4 * epoch) / (3 * epochs)), 0),
  };
}
