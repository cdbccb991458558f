// A small seeded generator for index permutations (shuffling, random splits). It lives in JS so that a
// loader's order depends only on its seed, never on the global torch.manualSeed state or on other ops.
import { TorchError } from '../torch/errors';

/** Folds an arbitrary safe integer (and an optional stream number) into a 32-bit state. */
function mixSeed(seed: number, stream: number): number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(hi ^ 0xc2b2ae35, 0x27d4eb2f);
  h ^= Math.imul(stream ^ 0x165667b1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A seeded random number generator (mulberry32 over a mixed seed). Not PyTorch's Mersenne Twister: the
 * permutations differ from torch.randperm's, but are reproducible from the seed alone.
 */
export class Generator {
  private state: number;

  /** `stream` selects an independent sequence for the same seed (the loader passes the epoch). */
  constructor(seed: number, stream = 0) {
    if (!Number.isSafeInteger(seed)) throw new TorchError(`data.Generator(): seed must be a safe integer, got ${seed}`);
    this.state = mixSeed(seed, stream);
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, n), n <= 2^32, without modulo bias. */
  nextInt(n: number): number {
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** A uniform random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[] {
    const p = new Array<number>(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
