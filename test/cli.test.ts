// The command line (dist/cli.js as a child process): help of every command, usage and runtime errors
// with their exit codes, and small real runs of `text`, `distill --config` and `spectral`; in process, the
// text models against PyTorch and the runners' tensor bookkeeping.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { data, distill, io, models, torch, train as training } from '../dist/index.js';
import { COMMANDS } from '../dist/cli/specs.js';
import { runText } from '../dist/cli/text.js';
import { spectralReport } from '../dist/cli/commands.js';
// @ts-expect-error plain ESM script without types
import { generateIntents, toJsonl } from '../scripts/synth-intents.mjs';
import { collectGarbage, expectClose, py } from './helpers';

const root = join(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'torchkd-cli-'));

function cli(args: string[], cwd = dir): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...args], { cwd, encoding: 'utf8', env: { ...process.env, TORCHKD_DEBUG: '' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A usage or runtime error: the exit code, and one line on stderr (no stack trace). */
function expectError(r: { code: number; stderr: string }, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

function write(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const intents = (n: number, seed: number) => toJsonl(generateIntents(n, { seed })) as string;
const train = write('train.jsonl', intents(300, 1));
const test = write('test.jsonl', intents(100, 2));

afterAll(async () => {
  await collectGarbage();
});

describe('help', () => {
  it('lists the commands, and every command documents every flag with its default', () => {
    const top = cli(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['demo', 'doctor', 'spectral', 'distill', 'text']) expect(top.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(cli([]).code).toBe(2);
    for (const spec of COMMANDS) {
      const r = cli([spec.name, '--help']);
      expect(r.code, spec.name).toBe(0);
      expect(r.stdout).toContain(`usage: torchkd ${spec.name}`);
      for (const f of spec.flags) {
        const line = r.stdout.split('\n').findIndex((l) => new RegExp(`^\\s+--${f.name}( |$)`).test(l));
        expect(line, `--${f.name} of ${spec.name}`).toBeGreaterThanOrEqual(0);
        if (f.default !== undefined) {
          const text = r.stdout.split('\n').slice(line, line + 2).join(' ');
          expect(text, `--${f.name}`).toContain(`(default: ${Array.isArray(f.default) ? f.default.join(',') : String(f.default)})`);
        }
      }
      expect(cli(['help', spec.name]).stdout).toBe(r.stdout);
      expect(cli([spec.name, '-h']).stdout).toBe(r.stdout);
    }
  });
});

describe('usage errors (exit 2)', () => {
  it('name the command or flag that is wrong, in one line', () => {
    expectError(cli(['frobnicate']), 2, /^torchkd: unknown command 'frobnicate'/);
    expectError(cli(['distil']), 2, /did you mean distill\?/);
    expectError(cli(['text', '--trian', train]), 2, /^torchkd text: unknown flag --trian for 'text' \(did you mean --train\?\)\n$/);
    expectError(cli(['text', '--train', train, '--test']), 2, /--test needs a value \(FILE\)/);
    expectError(cli(['text', '--train', '--test', test]), 2, /--train needs a value/);
    expectError(cli(['text', '--train', train, '--test', test, '--epochs', 'two']), 2, /--epochs expects an integer, got 'two'/);
    expectError(cli(['text', '--train', train, '--test', test, '--epochs=1.5']), 2, /--epochs expects an integer, got '1\.5'/);
    expectError(cli(['text', '--train', train, '--test', test, '--alpha', 'x']), 2, /--alpha expects a number, got 'x'/);
    expectError(cli(['text', '--train', train, '--test', test, '--alpha', '2']), 2, /--alpha must be at most 1, got 2/);
    expectError(cli(['text', '--train', train, '--test', test, '--device', 'gpu']), 2, /--device must be cpu, cuda or cuda:N/);
    expectError(cli(['text', '--train', train, '--test', test, '--progress', 'fancy']), 2, /--progress must be one of auto, bar, lines, none/);
    expectError(cli(['text', '--train', train, '--train', train]), 2, /--train is given more than once/);
    expectError(cli(['text', '--test', test]), 2, /missing required flag --train FILE/);
    expectError(cli(['text', 'train.jsonl']), 2, /unexpected argument 'train.jsonl'/);
    expectError(cli(['spectral', '--data', 'fashion-mnist', '--layers', 'a']), 2, /give --model FILE \(TorchScript\), or --weights FILE with --arch FILE/);
    expectError(cli(['spectral', '--data', 'fashion-mnist', '--layers', 'a,,b', '--model', train]), 2, /--layers expects a comma-separated list without empty items/);
  });

  it('a missing file is reported with its path', () => {
    expectError(cli(['text', '--train', 'nope/train.jsonl', '--test', test]), 2, new RegExp(`--train: file not found: nope/train.jsonl \\(${dir}/nope/train.jsonl\\)`));
    expectError(cli(['distill', '--config', 'missing.json']), 2, /--config: file not found: missing.json/);
  });
});

describe('runtime errors (exit 1)', () => {
  it('a malformed JSONL line is reported with the file and line number', () => {
    const bad = write('bad.jsonl', '{"text": "hello", "label": "greet"}\n{"text": "bye", "label": "bye"}\n{"text": "oops" "label": "x"}\n');
    expectError(cli(['text', '--train', bad, '--test', test, '--out', join(dir, 'bad-out')]), 1, new RegExp(`^torchkd text: .*${bad}: line 3: invalid JSON`));
    const noText = write('notext.jsonl', '{"text": "a b", "label": "x"}\n\n{"label": "y"}\n');
    expectError(cli(['text', '--train', noText, '--test', test]), 1, /notext.jsonl: line 3: 'text' must be a string/);
  });

  it('labels missing from the training data, and empty files, are clear errors', () => {
    const other = write('other.jsonl', '{"text": "book a flight", "label": "book_flight"}\n{"text": "fly me to the moon", "label": "space_travel"}\n');
    expectError(cli(['text', '--train', train, '--test', other]), 1,
      /other.jsonl: line 2: label "space_travel" does not occur in the training data \(.*train.jsonl\)/);
    expectError(cli(['text', '--train', train, '--test', test, '--valid', other]), 1, /other.jsonl: line 2: label "space_travel"/);
    const empty = write('empty.jsonl', '');
    expectError(cli(['text', '--train', empty, '--test', test]), 1, /empty.jsonl: no examples \(the file is empty\)/);
    expectError(cli(['text', '--train', train, '--test', empty]), 1, /empty.jsonl: no examples/);
  });

  it('configuration errors name their JSON paths, unknown keys included', () => {
    const cfg = write('bad.json', JSON.stringify({
      data: { source: 'fashion-mnist', labeled: 100 },
      student: { arch: { name: 'mlp', hidden: [0] } },
      teachers: [{ arch: { name: 'cnn' }, train: { epochs: 1 } }, { torchscript: 'nope.pt' }],
      terms: [{ type: 'ce' }, { type: 'kd', temperature: -1 }, { type: 'kd' }],
      optimizer: { name: 'sgd' },
      scheduler: { name: 'cosin' },
      augment: [{ type: 'randomCrop' }, { type: 'mixup', alpha: 0 }],
      epochs: 2,
      earlyStoping: { patience: 2 },
    }));
    const r = cli(['distill', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^torchkd distill: .*bad.json: invalid configuration:\n/);
    for (const line of [
      "config.earlyStoping is not a known key (did you mean 'earlyStopping'?)",
      "config.data.labeled is not a known key (did you mean 'labelled'?)",
      'config.student.arch.hidden[0] must be an integer ≥ 1, got 0',
      `config.teachers[1].torchscript names a file that does not exist: ${dir}/nope.pt`,
      'config.terms[1].temperature must be a positive number, got -1',
      "config.terms[2] produces the loss 'kd' as config.terms[1] does",
      'config.optimizer.lr is required',
      "config.scheduler.name must be one of 'cosine', 'step', 'multistep', 'exponential', 'linear', 'onecycle', got \"cosin\" (did you mean 'cosine'?)",
      'config.augment[0].size is required',
      'config.augment[1].alpha must be a positive number, got 0',
    ]) expect(r.stderr).toContain(line);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const layers = write('layers.json', JSON.stringify({
      data: { source: 'fashion-mnist', labelled: 64, testSamples: 64 },
      student: { arch: { name: 'mlp', hidden: [8] } },
      teachers: [{ arch: { name: 'mlp', hidden: [8] }, train: { maxSteps: 1 } }],
      terms: [{ type: 'hidden', pairs: [['layers.0', 'layers.3']] }],
      maxSteps: 1, progress: 'none',
    }));
    expectError(cli(['distill', '--config', layers]), 1, /config.terms\[0\].pairs\[0\]\[1\] names no module of the teacher: 'layers.3' \(its modules: flatten, layers, layers.0/);
    expectError(cli(['distill', '--config', write('broken.json', '{"data": ')]), 1, /broken.json: invalid JSON/);
  });
});

describe('text', () => {
  it('trains a teacher, a distilled student and a scratch student, and reports their accuracies and real parameter counts', () => {
    const out = join(dir, 'text-out');
    const r = cli(['text', '--train', train, '--test', test, '--out', out, '--epochs', '1', '--teacher-dim', '32', '--teacher-heads', '2',
      '--teacher-layers', '1', '--student-bigrams', '64', '--progress', 'none']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^model\s+test accuracy\s+parameters/);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(m.data).toMatchObject({ train: 270, valid: 30, test: 100, classes: 20 });
    const vocab = JSON.parse(readFileSync(join(out, 'vocab.json'), 'utf8')).tokens.length;
    expect(m.data.vocabulary).toBe(vocab);
    for (const run of ['teacher', 'student', 'scratch']) {
      const x = m[run];
      expect(x.accuracy).toBeGreaterThanOrEqual(0);
      expect(x.accuracy).toBeLessThanOrEqual(1);
      expect(x.epochs).toBe(1);
      // The default teacher trains its two members one after the other.
      expect(x.steps).toBe((run === 'teacher' ? 2 : 1) * Math.ceil(270 / 64));
      // The count is the saved weights' size (the default teacher: its two members').
      const files = run === 'teacher' ? ['teacher', 'teacher-fasttext'] : [run];
      const sizes = files.map((f) => {
        const { tensors } = io.loadSafetensors(join(out, f, 'model.safetensors'));
        const n = Object.values(tensors).reduce((k, t) => k + t.numel(), 0);
        torch.dispose(tensors);
        return n;
      });
      expect(x.parameters).toBe(sizes.reduce((a, b) => a + b));
      expect(existsSync(join(out, run, 'checkpoint-best.safetensors'))).toBe(true);
      expect(readFileSync(join(out, run, 'metrics.jsonl'), 'utf8')).toMatch(/"type":"eval"/);
    }
    // FastText: (V + buckets)·dim embeddings + the head; the teacher is the larger model.
    expect(m.student.parameters).toBe((vocab + 64) * 16 + 16 * 20 + 20);
    expect(m.scratch.parameters).toBe(m.student.parameters);
    expect(m.teacher.parameters).toBeGreaterThan(m.student.parameters);
    expect(Object.keys(m.members)).toEqual(['transformer', 'fastText']);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/<svg[\s\S]*scratch/);
  });

  it('leaves no tensors behind in process', async () => {
    await collectGarbage();
    const before = torch.memory().tensors;
    await runText({ train, test, out: join(dir, 'text-inproc'), epochs: 1, teacherDim: 16, teacherHeads: 2, teacherLayers: 1, progress: 'none' });
    expect(torch.memory().tensors).toBe(before);
  });
});

describe('text models', () => {
  it('TextTransformer and FastText compute what PyTorch computes with the same weights', () => {
    torch.manualSeed(3);
    const teacher = new models.TextTransformer({ vocabSize: 30, numClasses: 4, dim: 8, layers: 2, heads: 2, maxLength: 6 }).eval();
    const student = new models.FastText({ vocabSize: 30, numClasses: 4, dim: 5, bigramBuckets: 7 });
    const ids = [[3, 7, 9, 2, 0, 0], [5, 0, 0, 0, 0, 0], [4, 4, 8, 11, 29, 1]];
    const x = torch.tensor(ids, { dtype: 'int64' });
    const ours = torch.tidy(() => ({ t: teacher.call(x).toArray(), s: student.call(x).toArray() }));
    const sd = (m: typeof teacher | typeof student) => torch.tidy(() => Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, v.toArray()])));
    const ref = py<{ t: number[][]; s: number[][] }>(`
import torch.nn as nn, torch.nn.functional as F
ids = torch.tensor(inputs['ids'])
T = lambda d: {k: torch.tensor(v) for k, v in d.items()}
class Teacher(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(30, 8, padding_idx=0); self.position = nn.Embedding(6, 8)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, 0.1, 'gelu', batch_first=True), 2, enable_nested_tensor=False)
        self.drop = nn.Dropout(0.1); self.head = nn.Linear(8, 4)
    def forward(self, x):
        x = x[:, :int((x != 0).sum(1).max())]
        pad = x == 0
        h = self.encoder(self.embed(x) + self.position(torch.arange(x.shape[1])), src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()
        return self.head((h * keep).sum(1) / keep.sum(1).clamp(min=1))
t = Teacher(); t.load_state_dict(T(inputs['teacher'])); t.eval()
# fastText: words, then hashed bigrams V + (a*1000003 + b) mod B where both are words.
W = torch.tensor(inputs['student']['embed.weight'])
rows = []
for r in inputs['ids']:
    words = [w for w in r if w != 0]
    bag = words + [30 + (a * 1000003 + b) % 7 for a, b in zip(words, words[1:])]
    rows.append(W[bag].mean(0))
s = F.linear(torch.stack(rows), torch.tensor(inputs['student']['head.weight']), torch.tensor(inputs['student']['head.bias']))
with torch.no_grad():
    out = {'t': t(ids).tolist(), 's': s.tolist()}
`, { ids, teacher: sd(teacher), student: sd(student) });
    expectClose(ours.t, ref.t, 1e-4, 1e-5);
    expectClose(ours.s, ref.s, 1e-5, 1e-6);
    x.dispose();
    teacher.dispose();
    student.dispose();
  });
});

describe('distill --config and spectral', () => {
  const out = join(dir, 'kd');
  const config = {
    name: 'kd',
    data: { source: 'fashion-mnist', labelled: 512, transfer: 512, valid: 256, testSamples: 500, batchSize: 64, seed: 1 },
    teachers: [{ arch: { name: 'mlp', hidden: [128] }, train: { epochs: 1, labelled: 2048 } }],
    student: { arch: { name: 'mlp', hidden: [32] } },
    terms: [{ type: 'ce' }, { type: 'kd', temperature: 4, weight: 0.5 }, { type: 'hidden', pairs: [['layers.0', 'layers.0']], weight: 0.1 }],
    augment: [{ type: 'randomCrop', size: 28, padding: 2 }, { type: 'randomHorizontalFlip' }],
    optimizer: { name: 'adamw', lr: 0.003 },
    scheduler: { name: 'cosine', warmupSteps: 2 },
    epochs: 2, evalEvery: 8, clipGradNorm: 5, nanGuard: { maxConsecutive: 3 },
    logEvery: 10, outDir: 'kd-from-config', progress: 'none', seed: 3,
  };

  it('runs a configuration: checkpoints, metrics, the student and its architecture', () => {
    const path = write('kd.json', JSON.stringify(config));
    const r = cli(['distill', '--config', path, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^teacher-0\s+\d+\.\d\d%\s+101770\s+arch:mlp/m);
    expect(r.stdout).toMatch(/^kd\s+\d+\.\d\d%\s+25450\s+arch:mlp/m);
    for (const f of ['checkpoint-last.safetensors', 'checkpoint-best.safetensors', 'model.safetensors', 'arch.json', 'config.json',
      'teacher-0/checkpoint-best.safetensors', 'teacher-0/model.safetensors']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/<svg[\s\S]*teacher-0[\s\S]*kd/);
    const log = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const steps = 2 * Math.ceil(1024 / 64);
    expect(log.filter((e) => e.type === 'eval').map((e) => e.step)).toEqual([8, 16, 24, 32]);
    expect(log.find((e) => e.type === 'train')).toMatchObject({ run: 'kd' });
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(m.fit.steps).toBe(steps);
    expect(m.data).toMatchObject({ labelled: 512, transfer: 512, valid: 256, test: 500, classes: 10, sampleShape: [1, 28, 28], validation: 'valid' });
    expect(m.student.parameters).toBe(784 * 32 + 32 + 32 * 10 + 10);
    expect(m.teachers[0].accuracy).toBeGreaterThan(0.6);
    expect(m.student.accuracy).toBeGreaterThan(0.5);
    expect(m.student.accuracy).toBeLessThanOrEqual(1);
    expect(JSON.parse(readFileSync(join(out, 'arch.json'), 'utf8'))).toEqual({ name: 'mlp', inputSize: 784, hidden: [32], numClasses: 10, dropout: 0 });
  });

  it('profiles layers: one finite positive intensity per layer in spectral.json', () => {
    const r = cli(['spectral', '--weights', join(out, 'teacher-0', 'model.safetensors'), '--arch', join(out, 'teacher-0', 'arch.json'),
      '--data', 'fashion-mnist', '--layers', 'flatten,layers.0,head', '--samples', '64', '--k', '1', '--out', join(dir, 'spec')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^layer\s+shape\s+intensity\s+selected\nflatten\s+\[64, 784\]/);
    const s = JSON.parse(readFileSync(join(dir, 'spec', 'spectral.json'), 'utf8'));
    expect(s.profile).toHaveLength(3);
    for (const v of s.profile) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThan(0);
    }
    expect(s.selected).toHaveLength(1);
    expect(s.layers.map((l: { name: string }) => l.name)).toEqual(['flatten', 'layers.0', 'head']);
    expect(readFileSync(join(dir, 'spec', 'spectral.svg'), 'utf8')).toMatch(/^<svg[\s\S]*layers\.0/);
    expectError(cli(['spectral', '--weights', join(out, 'model.safetensors'), '--arch', join(out, 'arch.json'), '--data', 'fashion-mnist', '--layers', 'layers.9']), 1,
      /--layers: the model has no module 'layers.9'/);
    expectError(cli(['spectral', '--weights', join(out, 'model.safetensors'), '--arch', join(out, 'teacher-0', 'arch.json'), '--data', 'fashion-mnist', '--layers', 'head']), 1,
      /cannot load .*model.safetensors into the model \(wrong architecture\?\)/);
    expectError(cli(['spectral', '--weights', join(out, 'model.safetensors'), '--arch', join(out, 'arch.json'), '--data', 'nope.safetensors', '--layers', 'head']), 2,
      /--data: file not found: nope.safetensors/);
  });

  it('a TorchScript teacher: features by output key, its real parameter count, and its spectral profile', () => {
    const script = join(dir, 'teacher.pt');
    py(`
import torch.nn as nn
class T(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 32); self.fc2 = nn.Linear(32, 10)
    def forward(self, x):
        h = torch.relu(self.fc1(x.flatten(1)))
        return {'logits': self.fc2(h), 'hidden': h}
torch.manual_seed(0)
torch.jit.trace(T(), torch.rand(2, 1, 28, 28), strict=False).save(inputs)
out = 1`, script);
    const path = write('script.json', JSON.stringify({
      data: { source: 'fashion-mnist', labelled: 128, testSamples: 128 },
      teachers: [{ torchscript: 'teacher.pt' }],
      student: { arch: { name: 'mlp', hidden: [16] } },
      terms: [{ type: 'ce' }, { type: 'kd' }, { type: 'hidden', pairs: [['layers.0', 'hidden']] }],
      maxSteps: 3, outDir: 'script-out', progress: 'none',
    }));
    const r = cli(['distill', '--config', path]);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(dir, 'script-out', 'metrics.json'), 'utf8'));
    expect(m.teachers[0]).toMatchObject({ source: 'torchscript:teacher.pt', parameters: 784 * 32 + 32 + 32 * 10 + 10 });
    expect(m.fit.steps).toBe(3);
    const s = cli(['spectral', '--model', script, '--data', 'fashion-mnist', '--layers', 'hidden,logits', '--samples', '32', '--out', join(dir, 'spec-script')]);
    expect(s.code, s.stderr).toBe(0);
    const profile = JSON.parse(readFileSync(join(dir, 'spec-script', 'spectral.json'), 'utf8')).profile;
    expect(profile).toHaveLength(2);
    expect(profile.every((v: number) => Number.isFinite(v) && v > 0)).toBe(true);
  });

  it('reads IDX and safetensors data, and builds every optimizer and scheduler', async () => {
    // 4-class features whose label is the argmax of a fixed linear map.
    torch.manualSeed(5);
    const w = torch.randn([12, 4]);
    const make = (n: number) => torch.tidy(() => {
      const x = torch.randn([n, 12]);
      return { x, y: x.matmul(w).argmax(1) };
    });
    const [tr, te] = [make(256), make(128)];
    io.saveSafetensors(join(dir, 'train.safetensors'), { x: tr.x, y: tr.y });
    io.saveSafetensors(join(dir, 'test-x.safetensors'), { inputs: te.x });
    io.saveSafetensors(join(dir, 'test-y.safetensors'), { y: te.y.to('int32') });
    const images = torch.tidy(() => tr.x.abs().mul(60).clamp(0, 255).to('uint8').reshape([256, 3, 4]));
    data.writeIdx(join(dir, 'x.idx'), images);
    data.writeIdx(join(dir, 'y.idx'), torch.tidy(() => tr.y.to('uint8')));
    const base = {
      student: { arch: { name: 'mlp', hidden: [16] } }, terms: [{ type: 'ce' }], progress: 'none', maxSteps: 3,
    } as const;
    const sources = [
      { source: 'safetensors', train: { x: 'train.safetensors' }, test: { x: 'test-x.safetensors', xKey: 'inputs', y: 'test-y.safetensors' } },
      { source: 'idx', train: { x: 'x.idx', y: 'y.idx' }, test: { x: 'x.idx', y: 'y.idx' }, testSamples: 64 },
    ] as const;
    const shapes = [];
    for (const d of sources) {
      const r = await training.runConfig({ ...base, data: { ...d, batchSize: 32 } } as training.RunConfig, { baseDir: dir });
      shapes.push([r.data.sampleShape, r.data.classes, r.data.test]);
    }
    // Float features are used as stored; IDX uint8 [N, 3, 4] images are scaled and get a channel axis.
    expect(shapes).toEqual([[[12], 4, 128], [[1, 3, 4], 4, 64]]);
    const optimizers = [{ name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }, { name: 'adam', betas: [0.8, 0.99] }, { name: 'rmsprop', centered: true },
      { name: 'adagrad', lrDecay: 0.01 }, { name: 'adamw', weightDecay: 0.1, amsgrad: true }];
    const schedulers = [{ name: 'step', stepSize: 1, gamma: 0.5 }, { name: 'multistep', milestones: [1, 2], warmupSteps: 1 }, { name: 'exponential', gamma: 0.9 },
      { name: 'linear', startFactor: 0.5 }, { name: 'onecycle', maxLr: 0.05 }];
    const lrs: number[] = [];
    for (let i = 0; i < optimizers.length; i++) {
      const events: number[] = [];
      const r = await training.runConfig({ ...base, data: { ...sources[0], batchSize: 32 }, optimizer: optimizers[i], scheduler: schedulers[i] } as training.RunConfig,
        { baseDir: dir, onEvent: (e) => { if (e.type === 'step') events.push(e.lr); } });
      expect(r.fit.steps).toBe(3);
      lrs.push(events[2]);
    }
    // lr after the 3rd step. step: 0.1·0.5³. multistep: 1 warm-up step, then its milestones count from the
    // warm-up's end (SequentialLR): 1e-3 → 1e-4 → 1e-5. exponential: 0.01·0.9³. linear: 0.01·(0.5 → 1 over
    // the 3 steps). onecycle over 3 steps (PyTorch's phases: warm-up ends at step 0.3·3 − 1, the annealing at
    // step 2, and step 3 extrapolates its cosine): min + (max − min)·(1 + cos(π·3.1/2.1))/2.
    const min = 0.05 / 25 / 1e4;
    expectClose(lrs, [0.1 * 0.5 ** 3, 1e-5, 0.01 * 0.9 ** 3, 0.01, min + ((0.05 - min) * (1 + Math.cos((Math.PI * 3.1) / 2.1))) / 2], 1e-6, 1e-12);
    // BSS (with its KD schedule), intra-distillation and DKD from the configuration: every loss is logged.
    let losses: Record<string, number> = {};
    await training.runConfig({
      ...base, data: { ...sources[0], batchSize: 32 }, student: { arch: { name: 'mlp', hidden: [16], dropout: 0.2 } },
      teachers: [{ arch: { name: 'mlp', hidden: [32] }, train: { maxSteps: 2 } }],
      terms: [{ type: 'ce' }, { type: 'kd', weight: 'bss', temperature: 3 }, { type: 'dkd', warmup: 1 }],
      bss: { maxBase: 8, maxSteps: 2 }, intra: { passes: 2 },
    } as training.RunConfig, { baseDir: dir, onEvent: (e) => { if (e.type === 'step' && e.run === 'student') losses = e.losses; } });
    expect(Object.keys(losses).sort()).toEqual(['bss', 'ce', 'dkd', 'intra', 'kd', 'loss']);
    torch.dispose([w, tr.x, tr.y, te.x, te.y, images]);
  });

  it("issue 13's options reach the terms from a configuration: T², reductions, divergence", async () => {
    // The student's first step (epoch 0 of 2: 64 labelled samples in batches of 32).
    const run = async (terms: unknown[]) => {
      let losses: Record<string, number> | null = null;
      await training.runConfig({
        data: { source: 'fashion-mnist', labelled: 64, testSamples: 64, batchSize: 32 },
        teachers: [{ arch: { name: 'mlp', hidden: [8] }, train: { maxSteps: 1 } }], student: { arch: { name: 'mlp', hidden: [8] } },
        terms, epochs: 2, progress: 'none', seed: 5,
      } as training.RunConfig, { onEvent: (e) => { if (e.type === 'step' && e.run === 'student') losses ??= e.losses; } });
      return losses as unknown as Record<string, number>;
    };
    const pairs = [['layers.0', 'layers.0'], ['head', 'head']];
    const plain = await run([{ type: 'kd', temperature: 2 }, { type: 'hidden', pairs }]);
    const changed = await run([{ type: 'kd', temperature: 2, squareTemperature: false }, { type: 'hidden', pairs, reduction: 'mean' }]);
    const summed = await run([{ type: 'kd', temperature: 2, reduction: 'sum' }]);
    const crossEntropy = await run([{ type: 'kd', temperature: 2, divergence: 'crossEntropy' }]);
    expect(plain.kd).toBeGreaterThan(0);
    expect(changed.kd).toBeCloseTo(plain.kd / 4, 6); // without T² (T = 2)
    expect(changed.hidden).toBeCloseTo(plain.hidden / 2, 6); // the mean of 2 pairs
    expect(summed.kd).toBeCloseTo(plain.kd * 32, 4); // summed over the batch of 32 instead of averaged
    expect(crossEntropy.kd).toBeGreaterThan(plain.kd); // KL + the teacher's entropy (times T²)
    // BSS's KD weight r(e) = max(3(1 − e/E), 0) + 1 at the first step: e = 0 (fractional), e = 1 (oneBased).
    const bss = await run([{ type: 'kd', weight: 'bss' }]);
    const bssOneBased = await run([{ type: 'kd', weight: 'bss', epochConvention: 'oneBased' }]);
    expect(bss.loss / bss.kd).toBeCloseTo(distill.bssWeights(0, 2).r, 5);
    expect(bssOneBased.loss / bssOneBased.kd).toBeCloseTo(distill.bssWeights(1, 2).r, 5);
    expect(distill.bssWeights(1, 2).r).toBe(2.5);
    const cfg = (extra: object) => ({
      data: { source: 'fashion-mnist', labelled: 64 }, teachers: [{ arch: { name: 'mlp', hidden: [8] }, train: { maxSteps: 1 } }], student: { arch: { name: 'mlp', hidden: [8] } }, ...extra,
    });
    expect(() => training.validateConfig(cfg({
      terms: [{ type: 'dkd', epochConvention: 'oneBased', warmup: 1 }, { type: 'kd', weight: 'bss', epochConvention: 'oneBased' },
        { type: 'spectral', pairs, layout: 'vit', prefixTokens: 2, grid: [14, 14], reduction: 'mean' },
        { type: 'attention', pairs, mode: 'tinybert', scoreThreshold: -100, reduction: 'mean' }],
      bss: { divergence: 'crossEntropy', epochConvention: 'oneBased' }, intra: { adaptive: false, reduction: 'sum', ignoreIndex: 1 },
    }))).not.toThrow();
    let message = '';
    try {
      training.validateConfig(cfg({
        terms: [{ type: 'kd', reduction: 'none', epochConvention: 'oneBased' }, { type: 'spectral', pairs, prefixTokens: 1, grid: [3] },
          { type: 'attention', pairs, scoreThreshold: 0 }],
        intra: { reduction: 'batchmean' },
      }));
    } catch (e) {
      message = (e as Error).message;
    }
    for (const line of [
      "config.terms[0].reduction must be one of 'batchmean', 'mean', 'sum', got \"none\"",
      "config.terms[0].epochConvention applies to a 'bss' weight or a dkd term only",
      "config.terms[1].prefixTokens applies to layout 'vit' only",
      'config.terms[1].grid must be the patch grid [H, W], got 1 numbers',
      "config.terms[2].scoreThreshold applies to mode 'tinybert' only",
      "config.intra.reduction must be one of 'mean', 'sum', got \"batchmean\"",
    ]) expect(message).toContain(line);
  });

  it('runConfig and spectralReport leave no tensors behind', async () => {
    await collectGarbage();
    const before = torch.memory().tensors;
    const r = await training.runConfig({ ...config, outDir: undefined, epochs: undefined, maxSteps: 4, evalEvery: undefined } as training.RunConfig);
    expect(r.fit.steps).toBe(4);
    await spectralReport({ weights: join(out, 'model.safetensors'), arch: join(out, 'arch.json'), data: 'fashion-mnist', layers: ['layers.0', 'head'], samples: 32 });
    expect(torch.memory().tensors).toBe(before);
  });
});
