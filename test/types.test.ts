// Type-level tests of the public API: the generated op overloads (a number is never an options object),
// Sequential's typed call and positions, the layer and loss options, and what the published types need.
// tsc compiles a strict consumer; `// @ts-expect-error` lines must fail to compile, the others must pass.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..');

const CONSUMER = `
import { data, nn, optim, torch, type Tensor } from '../../dist/index';
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const assert = <T extends true>(): T => true as T;
const x = torch.randn([4, 5]);

// max / min with a dim are { values, indices }; without one a Tensor; the function form likewise.
const m1 = x.max(1);
assert<Equal<typeof m1, { values: Tensor; indices: Tensor }>>();
const idx: Tensor = x.max(1).indices;
const m2 = torch.max(x, 1, true);
assert<Equal<typeof m2, { values: Tensor; indices: Tensor }>>();
const m3 = x.max({ dim: 0, keepdim: true });
assert<Equal<typeof m3, { values: Tensor; indices: Tensor }>>();
const whole: Tensor = x.max();
const s1: Tensor = x.sum(1, { keepdim: true });
const s2: Tensor = x.sum({ dim: [0, 1] });
const e: Tensor = torch.einsum('ij,kj->ik', x, x);
const e2: Tensor = torch.einsum('ij->j', [x]);
const r: Tensor = x.normal_(0, 1, { generator: new torch.Generator().manualSeed(1) });
const p: Tensor = torch.randperm(5, { generator: torch.defaultGenerator });
const b: Tensor = torch.randint(0n, 2n ** 62n, [3]);
// @ts-expect-error neg takes no argument
x.neg(3);
// @ts-expect-error relu takes no argument, not even an options object
x.relu({});
// @ts-expect-error max has no dtype
x.max({ dtype: 'float32' });
// @ts-expect-error indices of the whole-tensor max do not exist
torch.max(x).indices;
// @ts-expect-error sum's dim is a number or a list
x.sum('1');

// Sequential: call() is typed as the first module's input and the last module's output; seq[i] as module i.
const seq = new nn.Sequential(new nn.Linear(5, 3), new nn.ReLU({ inplace: true }), new nn.Linear(3, 2));
const out: Tensor = seq.call(x);
const first: nn.Linear = seq[0];
const act: nn.ReLU = seq[1];
const any: nn.Module = seq[2];
const kept: nn.Sequential = seq;
// @ts-expect-error position 1 is a ReLU
const wrong: nn.Linear = seq[1];
// @ts-expect-error a Linear takes a Tensor
seq.call(3);
const named = new nn.Sequential({ fc: new nn.Linear(5, 2) });
const named0: nn.Module = named[0];

// Layer and loss options: PyTorch's names; an unknown name does not compile.
new nn.Linear(5, 3, { bias: false, dtype: 'float64' });
new nn.Linear(5, 3, false);
new nn.Conv2d(1, 4, 3, { stride: 2, padding: 'same' });
new nn.Dropout({ p: 0.1, inplace: true });
new nn.CrossEntropyLoss({ labelSmoothing: 0.1, ignoreIndex: 0, reduction: 'sum' });
new nn.KLDivLoss({ reduction: 'batchmean', logTarget: true });
const lossValue: Tensor = new nn.CosineEmbeddingLoss({ margin: 0.5 }).call(x, x, torch.ones([4]));
// @ts-expect-error unknown option
new nn.ReLU({ inplce: true });
// @ts-expect-error unknown option
new nn.CrossEntropyLoss({ labelSmothing: 0.1 });
// @ts-expect-error reduction values are PyTorch's
new nn.MSELoss({ reduction: 'avg' });

// Data: generators, samplers, collateFn; the optimizer's state dict in PyTorch's layout.
const loader = new data.DataLoader(new data.TensorDataset(x), {
  batchSize: 2, shuffle: true, generator: new torch.Generator(), dropLast: true, collateFn: (items: Tensor[][]) => items.length,
});
const n: number = [...loader][0];
new data.DataLoader(new data.TensorDataset(x), { batchSampler: new data.BatchSampler(new data.RandomSampler({ length: 4 }), 2) });
// @ts-expect-error DataLoader options are PyTorch's names
new data.DataLoader(new data.TensorDataset(x), { shufle: true });
const opt = new optim.Adam(seq.parameters());
const sd = opt.stateDict();
const groups: number[] = sd.param_groups[0].params;
const st: Map<number, Record<string, Tensor | number | null>> = sd.state;
opt.loadStateDict(sd);
const loaded = torch.load('ckpt.pt');
torch.save({ model_state_dict: seq.stateDict(), optimizer_state_dict: opt.stateDict(), epoch: 3, loss: 0.5 }, 'ckpt.pt');
{
  using _ = torch.noGrad();
}
void [idx, whole, s1, s2, e, e2, r, p, b, out, first, act, any, kept, wrong, named0, lossValue, n, groups, st, loaded];
`;

describe('public types', () => {
  it('the op overloads, Sequential, layer/loss/data options compile as PyTorch users expect, and misuse does not', () => {
    const dir = join(root, 'build', 'types-check');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'porting-consumer.ts'), CONSUMER);
    let diagnostics = '';
    try {
      execFileSync(join(root, 'node_modules', '.bin', 'tsc'),
        ['--strict', '--noEmit', '--skipLibCheck', 'false', '--target', 'ES2022', '--module', 'commonjs', '--moduleResolution', 'node', '--lib', 'ES2022,ESNext.Disposable',
          '--types', 'node', join(dir, 'porting-consumer.ts')], { cwd: root, encoding: 'utf8' });
    } catch (e) {
      diagnostics = String((e as { stdout?: string }).stdout ?? e);
    }
    // An unused @ts-expect-error (misuse that compiles) is a diagnostic too.
    expect(diagnostics).toBe('');
  });

  it('the examples compile against the published types (importing torchkd by name)', () => {
    let diagnostics = '';
    try {
      execFileSync(join(root, 'node_modules', '.bin', 'tsc'),
        ['--strict', '--noEmit', '--target', 'ES2022', '--module', 'node16', '--moduleResolution', 'node16', '--lib', 'ES2022,ESNext.Disposable',
          '--types', 'node', join(root, 'examples', 'kd-tutorial', 'kd-tutorial.ts'), join(root, 'examples', 'takd', 'takd.ts')],
        { cwd: root, encoding: 'utf8' });
    } catch (e) {
      diagnostics = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(diagnostics).toBe('');
  });

  it('the published types need only dependencies: Node types come with torchkd, not from its devDependencies', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const dts = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((f) =>
      f.isDirectory() ? dts(join(d, f.name)) : f.name.endsWith('.d.ts') ? [join(d, f.name)] : []);
    const usesNode = dts(join(root, 'dist')).some((f) => /\b(Buffer|AbortSignal|NodeJS)\b|from 'node:/.test(readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '')));
    expect(usesNode).toBe(true);
    expect(pkg.dependencies['@types/node']).toBeDefined();
    expect(pkg.devDependencies['@types/node']).toBeUndefined();
  });
});

describe('as a dependency', () => {
  it('without a built addon (npm install --ignore-scripts), the error says npm rebuild torchkd', () => {
    const project = mkdtempSync(join(tmpdir(), 'torchkd-consumer-'));
    try {
      const pkg = join(project, 'node_modules', 'torchkd');
      mkdirSync(join(pkg, 'dist', 'torch'), { recursive: true });
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'torchkd', main: 'dist/torch/native.js' }));
      cpSync(join(root, 'dist', 'torch', 'native.js'), join(pkg, 'dist', 'torch', 'native.js'));
      symlinkSync(join(root, 'node_modules', 'bindings'), join(project, 'node_modules', 'bindings'));
      symlinkSync(join(root, 'node_modules', 'file-uri-to-path'), join(project, 'node_modules', 'file-uri-to-path'));
      let message = '';
      try {
        execFileSync(process.execPath, ['-e', 'require("torchkd")'], { cwd: project, encoding: 'utf8', stdio: 'pipe' });
      } catch (e) {
        message = String((e as { stderr?: string }).stderr);
      }
      expect(message).toMatch(/the native addon could not be loaded/);
      expect(message).toMatch(/npm rebuild torchkd/);
      expect(message).not.toMatch(/npm run build/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
