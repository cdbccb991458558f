// Statistics for comparing training runs over seeds: mean ± sample standard deviation, and the paired
// t-test on per-seed differences (runs with the same seed share initial weights and data order, so their
// differences cancel most of the seed-to-seed variation).
import { jStat } from 'jstat';
import { argError } from '../torch/errors';

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator; 0 for n = 1). */
  std: number;
  min: number;
  max: number;
}

function checkValues(op: string, name: string, values: unknown): asserts values is number[] {
  if (!Array.isArray(values) || values.length === 0) argError(op, `${name} must be a non-empty array of numbers`);
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) argError(op, `${name}[${i}] must be a finite number, got ${String(v)}`);
  });
}

/** mean = Σx/n, std = √(Σ(x − mean)² / (n − 1)) (numpy's std(ddof=1), torch.std's default), min, max. */
export function summarize(values: number[]): Summary {
  checkValues('summarize', 'values', values);
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, std, min: Math.min(...values), max: Math.max(...values) };
}

export interface PairedComparison {
  n: number;
  /** Mean of the per-seed differences a_i − b_i. */
  meanDiff: number;
  /** Their sample standard deviation. */
  stdDiff: number;
  /** t = meanDiff / (stdDiff / √n), with n − 1 degrees of freedom (null for n < 2). */
  t: number | null;
  df: number;
  /** Two-sided p-value 2·P(T_{n−1} ≥ |t|) (null for n < 2; 0 when every difference is the same non-zero value). */
  p: number | null;
  /** The `level` confidence interval of the mean difference: meanDiff ± t_{(1+level)/2, n−1} · stdDiff / √n. */
  ci: [number, number] | null;
  /** Whether the interval excludes 0 (p < 1 − level): the difference is larger than the seed-to-seed noise. */
  significant: boolean;
}

/**
 * The paired (dependent-samples) Student's t-test of a against b, matched by index (scipy.stats.ttest_rel,
 * two-sided): d_i = a_i − b_i, t = mean(d) / (std(d) / √n), df = n − 1, p = 2·(1 − F_t(|t|; df)).
 * Student (1908), "The probable error of a mean"; the t distribution from jstat.
 */
export function pairedTTest(a: number[], b: number[], options: { level?: number } = {}): PairedComparison {
  const op = 'pairedTTest';
  checkValues(op, 'a', a);
  checkValues(op, 'b', b);
  if (a.length !== b.length) argError(op, `a and b must pair up: ${a.length} vs ${b.length} values`);
  const { level = 0.95 } = options;
  if (typeof level !== 'number' || !(level > 0 && level < 1)) argError(op, `level must be in (0, 1), got ${String(level)}`);
  const d = summarize(a.map((v, i) => v - b[i]));
  const n = a.length;
  const df = n - 1;
  if (n < 2) return { n, meanDiff: d.mean, stdDiff: 0, t: null, df, p: null, ci: null, significant: false };
  const se = d.std / Math.sqrt(n);
  if (se === 0) {
    const significant = d.mean !== 0;
    return { n, meanDiff: d.mean, stdDiff: 0, t: significant ? Math.sign(d.mean) * Infinity : 0, df, p: significant ? 0 : 1, ci: [d.mean, d.mean], significant };
  }
  const t = d.mean / se;
  const p = Math.min(1, 2 * jStat.studentt.cdf(-Math.abs(t), df));
  const half = jStat.studentt.inv((1 + level) / 2, df) * se;
  const ci: [number, number] = [d.mean - half, d.mean + half];
  return { n, meanDiff: d.mean, stdDiff: d.std, t, df, p, ci, significant: ci[0] > 0 || ci[1] < 0 };
}
