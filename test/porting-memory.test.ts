// Issue 15's acceptance test for memory: the ported PyTorch tutorial, whose training loops use neither
// torch.tidy nor dispose nor await (as the Python original), runs to its end in bounded memory: every tensor
// is left to the garbage collector's finalizers. This run peaks at about 1.0 GB; before the finalizers ran
// during collection it peaked at 23.6 GB (of 24). This file runs alone in its fork, so maxRSS is this run's.
import { expect, it } from 'vitest';

it('the tutorial ported line by line (no tidy, no dispose, no yield) runs 3 x 80 steps in bounded memory', async () => {
  const { main } = await import('../examples/kd-tutorial/kd-tutorial');
  const lines: string[] = [];
  main(['--train-samples', '5120', '--test-samples', '64', '--epochs', '1', '--batch-size', '64'], (l) => lines.push(l));
  expect(lines.filter((l) => l.startsWith('Epoch'))).toHaveLength(4);
  const peakMb = process.resourceUsage().maxRSS / 1024;
  expect(peakMb).toBeLessThan(2048);
}, 600_000);
