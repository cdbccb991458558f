// A short end-to-end example (the README's first command runs it until the distillation demo lands):
// fits a linear model y = 3x - 2 with hand-written gradient steps, on CPU or CUDA, under torch.tidy.
import { createRequire } from 'node:module';

const { torch } = createRequire(import.meta.url)('../dist/index.js');
const device = process.argv.includes('--device') ? process.argv[process.argv.indexOf('--device') + 1] : 'cpu';

torch.manualSeed(0);
const x = torch.rand([256, 1], { device });
const y = torch.tidy(() => x.mul(3).add(-2).add(torch.randn([256, 1], { device }).mul(0.01)));
let w = torch.zeros([1, 1], { device });
let b = torch.zeros([1], { device });

for (let step = 0; step <= 2000; step++) {
  // Gradients of the mean squared error, written out: dL/dw = 2·mean(x·r), dL/db = 2·mean(r), r = xw + b - y.
  const [nw, nb, loss] = torch.tidy(() => {
    const r = x.matmul(w).add(b).add(y, -1);
    const gw = x.mul(r).sum().mul(2 / 256);
    const gb = r.sum().mul(2 / 256);
    return [w.add(gw, -0.5), b.add(gb, -0.5), r.mul(r).sum().mul(1 / 256).item()];
  });
  w.dispose(); b.dispose();
  w = nw; b = nb;
  if (step % 500 === 0) console.log(`step ${String(step).padStart(4)}  loss ${loss.toFixed(6)}`);
}
console.log(`w = ${w.item().toFixed(4)} (true 3), b = ${b.item().toFixed(4)} (true -2), device ${device}`);
console.log('live tensors:', torch.memory());
