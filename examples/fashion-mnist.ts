// Fashion-MNIST for the examples: Debian's dataset-fashion-mnist scaled to [0, 1] and normalised with the
// training set's mean and standard deviation, exactly as fashion_mnist.py does for the Python originals.
import { data, torch } from 'torchkd';

export const MEAN = 0.286;
export const STD = 0.353;

/** A TensorDataset of [N, 1, 28, 28] float32 images and int64 labels. */
export function fashionMnist(train: boolean): data.TensorDataset {
  const { images, labels } = data.fashionMnist({ split: train ? 'train' : 'test', root: process.env.FASHION_MNIST_ROOT });
  const x = torch.tidy(() => images.float().div(255).sub(MEAN).div(STD).unsqueeze(1));
  images.dispose();
  return new data.TensorDataset(x, labels);
}

/** The flags both versions of an example take: --train-samples N --test-samples N --epochs N --batch-size N. */
export function parseFlags(argv: string[], defaults: Record<string, number>): Record<string, number> {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!(name in out) || !/^\d+$/.test(argv[i + 1] ?? '')) throw new Error(`unknown flag or value: ${argv[i]} ${argv[i + 1] ?? ''}`);
    out[name] = Number(argv[i + 1]);
  }
  return out;
}
