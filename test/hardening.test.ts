// Hardening (issue 12): the reproducers of the crashes, hangs and leaks found by attacking the API, each a
// regression test. Those that used to take the process down run in a child process, whose exit status and
// signal are the assertion.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { data, distill, io, models, nn, optim, torch, TorchError, train } from '../dist/index.js';
import { py } from './helpers';

const dist = join(__dirname, '..', 'dist', 'index.js');
const dir = mkdtempSync(join(tmpdir(), 'torchkd-hardening-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a CommonJS script (with `torchkd` bound to the package) in a fresh node; its stdout, status and signal. */
function node(script: string, options: { timeout?: number; args?: string[] } = {}) {
  const program = `const torchkd = require(${JSON.stringify(dist)});\nconst { torch } = torchkd;\n${script}`;
  const r = spawnSync(process.execPath, [...(options.args ?? []), '-e', program], {
    encoding: 'utf8', timeout: options.timeout ?? 60_000, env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw, nothing was thrown');
}

function torchError(fn: () => unknown): TorchError {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(TorchError);
  expect(typeof (e as TorchError).code).toBe('string');
  return e as TorchError;
}

/** An array whose element k throws when read. */
function throwingArray(values: number[], k: number): number[] {
  const a = [...values];
  Object.defineProperty(a, k, { get() { throw new Error('getter'); } });
  return a;
}

describe('1. a worker ended while dataAsync() is pending', () => {
  it('does not abort the process (terminate() and process.exit() in the worker)', () => {
    const r = node(`
      const { Worker } = require('node:worker_threads');
      const code = \`
        const { torch } = require(\${JSON.stringify(${JSON.stringify(dist)})});
        const { parentPort, workerData } = require('node:worker_threads');
        const t = torch.randn([1 << 20]);
        for (let i = 0; i < 16; i++) t.dataAsync();
        if (workerData.exit) process.exit(0);
        parentPort.postMessage('pending');\`;
      (async () => {
        for (let i = 0; i < 8; i++) {
          const w = new Worker(code, { eval: true, workerData: { exit: i % 2 === 1 } });
          await new Promise((resolve) => { w.once('message', resolve); w.once('exit', resolve); });
          await w.terminate();
        }
        console.log('survived');
      })();`);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('survived');
  });
});

describe('2. arrays whose element getter throws', () => {
  it("propagate the getter's error from every array-taking API, run nothing and leak nothing", () => {
    const t = torch.zeros([2, 3]);
    const before = torch.memory().tensors;
    const calls: [string, (a: number[]) => unknown][] = [
      ['reshape', (a) => t.reshape(a)], ['view', (a) => t.view(a)], ['permute', (a) => t.permute(a)],
      ['sum', (a) => t.sum(a)], ['flip', (a) => t.flip(a)], ['expand', (a) => t.expand(a)],
      ['zeros', (a) => torch.zeros(a)], ['ones', (a) => torch.ones(a)], ['randn', (a) => torch.randn(a)],
      ['tensor shape', (a) => torch.tensor([1, 2, 3, 4, 5, 6], { shape: a })],
      ['index', (a) => t.index([a as never])], ['cat', () => torch.cat(throwingArray([0, 0], 1) as never)],
    ];
    for (let round = 0; round < 30; round++) {
      for (const [name, call] of calls) {
        const e = thrown(() => call(throwingArray([6, 1], round % 2)));
        expect((e as Error).message, name).toMatch(/getter|must be|TorchError/);
      }
    }
    expect(torch.memory().tensors).toBe(before);
    t.dispose();
  });

  it('survive getters that dispose the tensor being read or create thousands of tensors', () => {
    const before = torch.memory().tensors;
    for (let round = 0; round < 20; round++) {
      const t = torch.ones([2, 3]);
      const a = [3, 2];
      Object.defineProperty(a, 1, { get() { t.dispose(); for (let i = 0; i < 2000; i++) torch.zeros([1]).dispose(); return 2; } });
      const r = t.reshape(a);
      expect(r.shape).toEqual([3, 2]);
      r.dispose();
    }
    expect(torch.memory().tensors).toBe(before);
  });
});

describe('3. backward() from a tensor hook', () => {
  it('nests 100 deep without hanging and gives the gradients', () => {
    const r = node(`
      const depth = 100;
      let level = 0;
      const run = () => {
        const x = torch.ones([2], { requiresGrad: true });
        const y = x.mul(3);
        y.registerHook((g) => { if (++level < depth) torch.enableGrad(run); return g; });
        y.sum().backward();
        const g = x.grad.toArray();
        torch.dispose([x, y]);
        return g;
      };
      console.log(JSON.stringify({ grad: run(), level }));`, { timeout: 60_000 });
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.stdout)).toEqual({ grad: [3, 3], level: 100 });
  });
});

describe('4. a loop that neither disposes nor yields', () => {
  it('stays bounded: the finalizers of forgotten tensors run during garbage collection', () => {
    const r = node(`
      const model = new torchkd.nn.Sequential(new torchkd.nn.Linear(64, 64), new torchkd.nn.ReLU(), new torchkd.nn.Linear(64, 10));
      const opt = new torchkd.optim.SGD(model.parameters(), { lr: 0.01 });
      const x = torch.randn([32, 64]);
      const y = torch.randint(0, 10, [32]);
      let peak = 0;
      for (let step = 0; step < 6000; step++) {
        opt.zeroGrad();
        const loss = torch.nn.functional.crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
        peak = Math.max(peak, torch.memory().tensors);
      }
      console.log(JSON.stringify({ peak, end: torch.memory().tensors }));`, { timeout: 120_000 });
    expect(r.signal).toBeNull();
    const { peak } = JSON.parse(r.stdout);
    // Without collection during the loop: about 14 tensors a step, 84,000 here.
    expect(peak).toBeLessThan(12_000);
  });
});

describe('5. read-backs that cannot be allocated', () => {
  it('are TorchErrors (ERR_OUT_OF_MEMORY), not V8 fatal errors', () => {
    const r = node(`
      const huge = torch.zeros([1]).expand([2 ** 33]);
      const codes = [];
      for (const f of [() => huge.dataSync(), () => huge.toArray(), () => torchkd.io.saveSafetensors(${JSON.stringify(join(dir, 'huge.safetensors'))}, { huge })]) {
        try { f(); codes.push('returned'); } catch (e) { codes.push(e instanceof torch.TorchError ? e.code : String(e)); }
      }
      huge.dataAsync().then(() => console.log('resolved'), (e) => console.log(JSON.stringify(codes.concat(e.code))));`,
    { args: ['--max-old-space-size=512'] });
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.stdout)).toEqual(['ERR_OUT_OF_MEMORY', 'ERR_OUT_OF_MEMORY', 'ERR_OUT_OF_MEMORY', 'ERR_OUT_OF_MEMORY']);
  });
});

describe('6. corrupted TorchScript files', () => {
  it('are TorchErrors: every entry is CRC-checked before libtorch parses it', () => {
    const path = join(dir, 'm.ts.pt');
    const script = join(dir, 'm.py');
    writeFileSync(script, [
      'import sys, torch',
      'class M(torch.nn.Module):',
      '    def __init__(self):',
      '        super().__init__()',
      '        self.l = torch.nn.Linear(3, 2)',
      '    def forward(self, x):',
      '        return torch.relu(self.l(x))',
      'torch.jit.script(M()).save(sys.argv[1])',
    ].join('\n'));
    py(`import subprocess\nsubprocess.run([sys.executable, inputs[0], inputs[1]], check=True)\nout = 1`, [script, path]);
    const good = readFileSync(path);
    const m = io.loadTorchScript(path);
    m.dispose();
    // Flip one byte at 64 places across the archive (headers, pickles, code, constants).
    const r = node(`
      const fs = require('node:fs');
      const good = fs.readFileSync(${JSON.stringify(path)});
      const codes = new Set();
      for (let k = 0; k < 64; k++) {
        const b = Buffer.from(good);
        const at = Math.floor((k + 0.5) * b.length / 64);
        b[at] ^= 0x5a;
        const p = ${JSON.stringify(join(dir, 'mutant.pt'))};
        fs.writeFileSync(p, b);
        try { torchkd.io.loadTorchScript(p).dispose(); codes.add('loaded'); } catch (e) { codes.add(e instanceof torch.TorchError ? e.code : 'other: ' + e); }
      }
      console.log(JSON.stringify([...codes]));`);
    expect(r.signal).toBeNull();
    const codes = JSON.parse(r.stdout) as string[];
    expect(codes.every((c) => c === 'ERR_IO' || c === 'ERR_TORCH' || c === 'loaded')).toBe(true);
    expect(codes).toContain('ERR_IO');
    expect(good.length).toBeGreaterThan(0);
  });
});

describe('7. checkpoint temporary files left by a killed writer', () => {
  it('are removed by the next save or load of the same path; those of live processes are kept', () => {
    const path = join(dir, 'run.ckpt');
    const m = new nn.Linear(2, 2);
    train.saveCheckpoint(path, { modules: { m } }, { step: 1 });
    // A pid that no longer runs: a child that has exited.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const stale = join(dir, `.run.ckpt.${dead}.abc.tmp`);
    const live = join(dir, `.run.ckpt.${process.pid}.def.tmp`);
    writeFileSync(stale, Buffer.alloc(1024));
    writeFileSync(live, Buffer.alloc(16));
    expect(train.loadCheckpoint(path, { modules: { m } })).toEqual({ step: 1 });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    writeFileSync(stale, Buffer.alloc(1024));
    train.saveCheckpoint(path, { modules: { m } }, { step: 2 });
    expect(readdirSync(dir).filter((n) => n.startsWith('.run.ckpt.'))).toEqual([`.run.ckpt.${process.pid}.def.tmp`]);
    rmSync(live);
    m.parameters().forEach((p) => p.dispose());
  });
});

describe('8. errors for hostile values are TorchErrors with a code', () => {
  it('messages show bigints, cycles and huge sparse arrays without throwing or stalling', () => {
    const cyclic: unknown[] = [1];
    cyclic.push(cyclic);
    const sparse: number[] = [];
    sparse.length = 2 ** 32 - 1;
    for (const v of [[1n, 2n], cyclic, sparse, [{ a: 1n }]]) {
      const e = torchError(() => torch.zeros(v as never));
      expect(e.message).toMatch(/^zeros\(\): /);
    }
  });

  it('dispose of a cyclic value, deeply nested tensor data and mixed bigints', () => {
    const t = torch.ones([2]);
    const o: Record<string, unknown> = { t };
    o.self = o;
    torch.dispose(o);
    expect(t.isDisposed).toBe(true);
    let deep: unknown = [1];
    for (let i = 0; i < 20000; i++) deep = [deep];
    expect(torchError(() => torch.tensor(deep as never)).message).toMatch(/too many dimensions/);
    const mixed = torch.tensor([1n, 2.5] as never);
    expect([mixed.dtype, mixed.toArray()]).toEqual(['float32', [1, 2.5]]);
    mixed.dispose();
    expect(torchError(() => torch.tensor([2n ** 70n] as never)).message).toMatch(/Overflow/);
  });

  it('GradScaler validates its options', () => {
    for (const o of [{ initScale: -1 }, { growthFactor: 0.5 }, { backoffFactor: 2 }, { growthInterval: 1.5 }, { enabled: 'yes' }, { typo: 1 }]) {
      torchError(() => new torch.amp.GradScaler(o as never));
    }
    torchError(() => new torch.amp.GradScaler().step({} as never));
  });

  it('native argument errors and JS argument errors carry a code', () => {
    expect(torchError(() => torch.ones([2]).add('x' as never)).code).toBe('ERR_INVALID_ARG');
    expect(torchError(() => torch.ones([2]).add(torch.ones([3]))).code).toBe('ERR_TORCH');
    expect(torchError(() => torch.zeros([2], { dtype: 'float33' as never })).code).toBe('ERR_INVALID_ARG');
  });

  it('public functions outside the tensor core name the function and the bad argument', () => {
    const t = torch.zeros([2, 3]);
    const hf = models.hf;
    const s = 'x' as never;
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    const cases: [() => unknown, RegExp][] = [
      [() => new data.TensorDataset(true as never), /^TensorDataset\(\): tensors\[0\] is not a Tensor/],
      [() => new data.Tokenizer().tokenize(undefined as never), /^Tokenizer\.tokenize\(\): text must be a string/],
      [() => new data.Vocab(t as never), /^Vocab\(\): tokens must be an array/],
      [() => data.encodeIdx(undefined as never), /^writeIdx\(\): argument 't' must be a Tensor/],
      [() => data.writeIdx(1 as never, t), /^writeIdx\(\): path must be/],
      [() => data.parseCsv(1 as never), /^parseCsv\(\): text must be a string/],
      [() => new data.TensorDataset(t).getBatch(1 as never), /^TensorDataset\.getBatch\(\): indices must be an array/],
      [() => data.defaultCollate(undefined as never), /^defaultCollate\(\): batch must be an array/],
      [() => new data.RandomSampler(undefined as never), /^RandomSampler\(\): dataSource must have a length/],
      [() => data.compose([() => t, 1] as never), /^compose\(\): augs\[1\]/],
      [() => data.parseIdx(undefined as never), /^parseIdx\(\): bytes must be/],
      [() => data.parseTextClassification('', 1 as never), /format must be a string/],
      [() => new data.DataLoader(undefined as never), /^DataLoader\(\): dataset must be a Dataset/],
      [() => new (distill.TeacherCache as unknown as new () => unknown)(), /not constructed/],
      [() => distill.hintonLoss(s, t, t), /^hintonLoss\(\): argument 'studentLogits' must be a Tensor, got string/],
      [() => distill.kdLoss(t, t, null as never), /^kdLoss\(\): options must be an object, got null/],
      [() => distill.dkdParts(s, t, t), /^dkdParts\(\): argument 'studentLogits'/],
      [() => distill.dkdLoss(t, s, t), /^dkdLoss\(\): argument 'teacherLogits'/],
      [() => distill.attentionLoss(t, t, { mask: 1 as never }), /^attentionLoss\(\): argument 'mask'/],
      [() => distill.bssAttack((x: never) => x, t, undefined as never), /^bssAttack\(\): options must be an object/],
      [() => distill.sampleTargetClasses(s), /^sampleTargetClasses\(\)/],
      [() => distill.selectBaseSamples(t, t, s), /^selectBaseSamples\(\): argument 'labels'/],
      [() => distill.captureLayers(new nn.Linear(2, 2), undefined as never, t), /^captureLayers\(\): layers must be an array/],
      [() => distill.combineSpecialists(t, [{ classes: [0], probs: 1 as never }]), /specialists\[0\]\.probs/],
      [() => distill.hiddenStateLoss([t], [t], undefined as never), /^hiddenStateLoss\(\): options must be an object/],
      [() => distill.hiddenStateLoss([t], [t], { map: [{ student: 0, teacher: [0], weights: [1] }], projection: 3 as never }), /projection/],
      [() => distill.initialLayers(3 as never, 2), /^initialLayers\(\): map must be an array/],
      [() => distill.intraDistillationLoss(undefined as never, t, t), /^intraDistillationLoss\(\): model must be/],
      [() => distill.multiTeacherKdLoss(t, undefined as never), /^multiTeacherKdLoss\(\): teacherLogits must be/],
      [() => distill.parameterSensitivity(s, () => t), /^parameterSensitivity\(\): model must be/],
      [() => distill.selectLayers(s), /^selectLayers\(\): profile must be an array/],
      [() => distill.sensitivityBalance(s), /^sensitivityBalance\(\): sensitivities must be a Map/],
      [() => distill.spectralLoss(t, s), /^spectralLoss\(\): argument 'featT'/],
      [() => distill.spectralIntensity(s), /^spectralIntensity\(\): argument 'x'/],
      [() => distill.spectralSelection(new nn.Linear(2, 2), new nn.Linear(2, 2), t, undefined as never), /^spectralSelection\(\): options must be/],
      [() => distill.sobolevLoss(s, s, t), /^sobolevLoss\(\): studentFn must be a function/],
      [() => distill.vitPatchMap(s), /^vitPatchMap\(\): argument 'tokens'/],
      [() => distill.xDivergence([t, t], null as never), /^xDivergence\(\): options must be an object/],
      [() => distill.terms.attention(undefined as never), /^terms\.attention\(\): options must be/],
      [() => distill.terms.hidden({ pairs: [['a', 'b'], 3] as never }), /pairs\[1\] must be a \[student path, teacher path\] pair/],
      [() => distill.terms.attentionMaps({ map: [], studentPaths: undefined as never, teacherPaths: [] }), /options\.studentPaths must be an array/],
      [() => distill.terms.hiddenStates(undefined as never), /^terms\.hiddenStates\(\): options must be/],
      [() => distill.terms.bssKdWeight(undefined as never), /^terms\.bssKdWeight\(\): ctx must be an object/],
      [() => distill.terms.scheduleEpoch({ epoch: 'x' } as never), /ctx\.epoch must be a finite number/],
      [() => distill.terms.combineTerms(undefined as never, {} as never), /^terms\.combineTerms\(\): terms must be an array/],
      [() => distill.terms.custom(-1 as never, [] as never), /^terms\.custom\(\): name must be a string/],
      [() => distill.terms.checkEpochConvention('fractional', [] as never), /op must be a string/],
      [() => distill.terms.termWeight(undefined as never, {} as never), /^terms\.termWeight\(\): term must be an object/],
      [() => distill.adaptiveAlpha(1, 10, undefined as never), /^adaptiveAlpha\(\): options must be an object/],
      [() => distill.interpolateDepth(2, 10, cyclic as never), /fraction must be a number/],
      [() => hf.AutoModel.fromConfig(undefined as never), /config must be a PretrainedConfig/],
      [() => new hf.BertEmbeddings(undefined as never), /^hf\.BertEmbeddings\(\): config must be a PretrainedConfig/],
      [() => new hf.DistilBertSelfAttention({} as never), /^hf\.DistilBertSelfAttention\(\): config/],
      [() => new hf.RobertaForSequenceClassification(1 as never), /^hf\.RobertaForSequenceClassification\(\): config/],
      [() => hf.extendedAttentionMask(t, 'float32', 7 as never), /^hf\.extendedAttentionMask\(\): shape must be an array/],
      [() => hf.freshStudent(false as never, {}), /^hf\.freshStudent\(\): teacher must be/],
      [() => hf.studentFromTeacher(undefined as never, [0]), /^hf\.studentFromTeacher\(\): teacher must be/],
      [() => hf.loadPretrainedWeights(undefined as never, {}, { prefix: 'bert' }), /^hf\.loadPretrainedWeights\(\): model must be/],
      [() => models.saveModel(0 as never, new nn.Linear(2, 2), { name: 'mlp' }), /^saveModel\(\): path must be/],
      [() => models.buildModel(undefined as never), /^buildModel\(\): arch must be an object/],
      [() => new models.FastText(undefined as never), /^FastText\(\): options must be an object/],
      [() => new nn.Module().namedModules(Symbol('s') as never), /^Module\.namedModules\(\): prefix must be a string/],
      [() => new nn.ReLU().getParameter(false as never), /^Module\.getParameter\(\): target must be a string/],
      [() => new nn.ReLU().apply(undefined as never), /^Module\.apply\(\): fn must be a function/],
      [() => new nn.ReLU().stateDict(null as never), /^Module\.stateDict\(\): options must be an object/],
      [() => new nn.ModuleList(t as never), /^nn\.ModuleList\(\): modules must be an iterable/],
      [() => new nn.ModuleDict(true as never), /^nn\.ModuleDict\(\): modules must be/],
      [() => new nn.Sigmoid().forward(undefined as never), /Tensor/],
      [() => nn.init.calculateFanInAndFanOut(1e-300 as never), /^nn\.init\.calculateFanInAndFanOut\(\): argument 'tensor'/],
      [() => nn.init.kaimingNormal_([1, 2] as never), /^nn\.init\.kaimingNormal_\(\)/],
      [() => nn.init.kaimingUniform_(t, null as never), /^nn\.init\.kaimingUniform_\(\): options must be/],
      [() => nn.init.zeros_(s), /^nn\.init\.zeros_\(\)/],
      [() => nn.init.ones_(undefined as never), /^nn\.init\.ones_\(\)/],
      [() => nn.init.orthogonal_(s), /^nn\.init\.orthogonal_\(\)/],
      [() => nn.init.xavierNormal_(undefined as never), /^nn\.init\.xavierNormal_\(\)/],
      [() => nn.init.withoutRandomInit(-3 as never), /^nn\.init\.withoutRandomInit\(\): fn must be a function/],
      [() => new optim.lrScheduler.SequentialLR({} as never, undefined as never, []), /^SequentialLR\(\): schedulers must be an array/],
      [() => new train.ConfigError(3 as never), /^ConfigError\(\): errors must be an array/],
      [() => new train.ProgressReporter('mean' as never, 1), /^ProgressReporter\(\): mode must be/],
      [() => new train.ProgressReporter('none', 1).update(1, { loss: {} as never }), /losses\.loss must be a number/],
      [() => train.evaluate('f' as never, [] as never), /^evaluate\(\): model must be an nn\.Module/],
    ];
    for (const [f, message] of cases) {
      const e = torchError(f);
      expect([e.code, e.message]).toEqual(['ERR_INVALID_ARG', expect.stringMatching(message)]);
    }
    t.dispose();
  });
});

describe('9. tensor handles cannot be forged or orphaned', () => {
  it('t.id is read-only and new Tensor() is refused', () => {
    const before = torch.memory().tensors;
    const t = torch.ones([2]);
    expect(torchError(() => { (t as { id: number }).id = 5; }).message).toMatch(/read-only/);
    expect(t.toArray()).toEqual([1, 1]);
    torchError(() => new (torch.Tensor as unknown as new (id: number) => unknown)(t.id));
    t.dispose();
    expect(torch.memory().tensors).toBe(before);
  });
});

describe('10. loader gaps', () => {
  it('a safetensors tensor named __proto__ is an own property, not the prototype', () => {
    const path = join(dir, 'proto.safetensors');
    // As text: in an object literal, __proto__ would set the prototype instead of naming a key.
    const header = '{"__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "__metadata__": {"__proto__": "x"}}';
    const h = Buffer.from(header);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    writeFileSync(path, Buffer.concat([len, h, Buffer.from(new Float32Array([2.5]).buffer)]));
    const { tensors, metadata } = io.loadSafetensors(path);
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect(tensors.__proto__.toArray()).toEqual([2.5]);
    expect(Object.getOwnPropertyDescriptor(metadata, '__proto__')?.value).toBe('x');
    tensors.__proto__.dispose();
  });

  // Zero-size tensors read nothing from the file (they took a read each); speed is measured, not asserted.
  it('a header of 200,000 zero-size tensors loads', () => {
    const path = join(dir, 'empty.safetensors');
    const entries: Record<string, unknown> = {};
    for (let i = 0; i < 200_000; i++) entries[`t${i}`] = { dtype: 'F32', shape: [0], data_offsets: [0, 0] };
    const h = Buffer.from(JSON.stringify(entries));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    writeFileSync(path, Buffer.concat([len, h]));
    const { tensors } = io.loadSafetensors(path);
    expect(Object.keys(tensors).length).toBe(200_000);
    expect(tensors.t199999.shape).toEqual([0]);
    torch.dispose(tensors);
  });

  it('.pt files: oversized zero-stride views, bool bytes other than 0/1 and unknown locations are refused', () => {
    const path = (name: string) => join(dir, name);
    py([
      'import zipfile',
      'd = inputs',
      'torch.save({"v": torch.zeros(16).as_strided([2**20, 2**20], [0, 0])}, d + "/view.pt")',
      'torch.save({"b": torch.tensor([True, False, True])}, d + "/bools.pt")',
      '# bool bytes: the storage entry rewritten with a 7',
      'src = zipfile.ZipFile(d + "/bools.pt")',
      'with zipfile.ZipFile(d + "/bools7.pt", "w", zipfile.ZIP_STORED) as z:',
      '    for n in src.namelist():',
      '        data = src.read(n)',
      '        z.writestr(n, bytes([7, 0, 1]) if n.endswith("data/0") else data)',
      '# locations: what torch.save records for the storage',
      'for loc in ["meta", "cpu:1"]:',
      '    torch.serialization.location_tag = lambda s, loc=loc: loc',
      '    torch.save({"w": torch.ones(2)}, d + "/loc-" + loc.replace(":", "") + ".pt")',
      'out = 1',
    ].join('\n'), dir);
    expect(torchError(() => io.loadStateDict(path('view.pt'))).message).toMatch(/view of 1099511627776 elements/);
    const b = io.loadStateDict(path('bools.pt')).b;
    expect([b.dtype, b.toArray()]).toEqual(['bool', [1, 0, 1]]);
    b.dispose();
    expect(torchError(() => io.loadStateDict(path('bools7.pt'))).message).toMatch(/bool bytes must be 0 or 1/);
    expect(torchError(() => io.loadStateDict(path('loc-meta.pt'))).message).toMatch(/location "meta"/);
    expect(torchError(() => io.loadStateDict(path('loc-cpu1.pt'))).message).toMatch(/location "cpu:1"/);
    // With a device given, the saved location does not matter.
    const w = io.loadStateDict(path('loc-meta.pt'), { device: 'cpu' }).w;
    expect(w.toArray()).toEqual([1, 1]);
    w.dispose();
  });
});

describe('crashes and hangs the fuzzer found', () => {
  it('sparse arrays of 2^32 - 1 holes are refused at their first hole (they hung or exhausted the heap)', () => {
    const r = node(`
      const { data } = torchkd;
      const sparse = () => { const a = []; a.length = 2 ** 32 - 1; return a; };
      const ds = new data.TensorDataset(torch.zeros([4, 2]));
      const out = [];
      for (const f of [() => data.randomSplit(-2, sparse()), () => data.randomSplit(ds, sparse()),
        () => new data.SubsetRandomSampler(sparse()), () => new data.WeightedRandomSampler(sparse(), 2),
        () => new data.Subset(ds, sparse()), () => torch.zeros(sparse()), () => torch.zeros([5, 1]).indexPut_(sparse(), 1),
        () => torch.zeros([2]).index(sparse()), () => torchkd.nn.utils.clipGradNorm_(sparse(), 1),
        () => new torchkd.optim.SGD(sparse(), { lr: 0.1 }), () => new torchkd.optim.Adam([{ params: sparse() }]),
        () => torchkd.report.summarize(sparse()), () => new data.LabelVocab(sparse()), () => torch.dispose(sparse()) ?? torch.zeros(['x']),
        () => torchkd.distill.spectralProfile(sparse()), () => torchkd.distill.xDivergence(sparse()), () => torchkd.distill.intraMse(sparse()),
        () => torch.autograd.backward(sparse()), () => torch.autograd.backward([torch.ones([1], { requiresGrad: true }).sum()], sparse()),
        () => new torchkd.nn.ModuleList(sparse()), () => new torchkd.nn.ModuleDict(sparse()), () => new data.Vocab(sparse()),
        () => torchkd.distill.selectLayers(sparse()), () => torchkd.distill.initialLayers(sparse(), 2),
        () => torchkd.distill.terms.hidden({ pairs: sparse() }), () => torchkd.distill.terms.combineTerms(sparse(), {}),
        () => new torchkd.optim.lrScheduler.SequentialLR({}, sparse(), []), () => new torchkd.train.ConfigError(sparse()),
        () => data.compose(sparse())]) {
        try { f(); out.push('returned'); } catch (e) { out.push(e instanceof torch.TorchError ? e.code : String(e)); }
      }
      console.log(JSON.stringify(out));`, { timeout: 60_000 });
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.stdout)).toEqual(Array(29).fill('ERR_INVALID_ARG'));
  });

  it('file readers refuse a number for a path (it was read as a file descriptor: readIdx(1) blocked on stdout)', () => {
    for (const f of [() => data.readIdx(1 as never), () => models.readArch(1 as never), () => train.readConfig(1 as never),
      () => data.readTextClassification(0 as never, { format: 'csv' }), () => data.Vocab.load(0 as never), () => io.loadStateDict(1 as never),
      () => io.loadSafetensors(2 as never), () => io.loadTorchScript(0 as never), () => models.hf.AutoConfig.fromPretrained(1 as never),
      () => models.hf.AutoModel.fromPretrained(1 as never), () => models.hf.AutoTokenizer.fromPretrained(1 as never)]) {
      expect(torchError(f).message).toMatch(/path must be a non-empty string/);
    }
  });

  it('an empty tensor of 2^31 rows prints without building its rows, and toArray refuses it', () => {
    const t = torch.eye(2 ** 31, 0);
    expect(String(t)).toBe('Tensor(shape=[2147483648, 0], dtype=float32, device=cpu)');
    expect(torchError(() => t.toArray()).code).toBe('ERR_OUT_OF_MEMORY');
    const small = torch.zeros([2, 0]);
    expect(String(small)).toBe('Tensor(shape=[2, 0], dtype=float32, device=cpu,\n  [[],[]])');
    torch.dispose([t, small]);
  });

  it('data.Generator refuses a count that is not an integer (nextInt(NaN) looped forever)', () => {
    const g = new data.Generator(0);
    expect(torchError(() => g.nextInt(NaN)).code).toBe('ERR_INVALID_ARG');
    expect(torchError(() => g.permutation(-3)).code).toBe('ERR_INVALID_ARG');
    expect(g.permutation(4).sort()).toEqual([0, 1, 2, 3]);
  });

  it('internal classes cannot be constructed, and options and sizes are checked before any work', () => {
    expect(torchError(() => new torch.distributed.ProcessGroup({} as never, [], '', 'gloo', 0, null)).message).toMatch(/made by initProcessGroup and newGroup/);
    expect(torchError(() => new io.ScriptModule({} as never)).message).toMatch(/made by io.loadTorchScript/);
    const layer = new nn.TransformerEncoderLayer(8, 2);
    expect(torchError(() => new nn.TransformerEncoder(layer, 1e300)).message).toMatch(/numLayers must be a non-negative integer/);
    expect(torchError(() => new nn.TransformerEncoder(torch.zeros([3]) as never, 2)).message).toMatch(/encoderLayer must be a module/);
    layer.dispose();
    expect(torchError(() => torch.load('x.pt', null as never)).message).toMatch(/options must be an object/);
    // c10d would retry opening these files for its 5-minute timeout.
    expect(torchError(() => new torch.distributed.FileStore('\u0000', 2)).message).toMatch(/without NUL bytes/);
    expect(torchError(() => new torch.distributed.FileStore('/nonexistent-dir/store', 2)).message).toMatch(/does not exist/);
    expect(torchError(() => new nn.Conv2d(1, 2, [3, NaN])).message).toMatch(/kernelSize must be a positive integer or a pair/);
    expect(torchError(() => torch.manualSeed(Symbol('s') as never)).message).toMatch(/seed must be an integer.*Symbol\(s\)/);
    const dir = mkdtempSync(join(tmpdir(), 'torchkd-dir-'));
    expect(torchError(() => io.loadTorchScript(dir)).code).toBe('ERR_IO');
    expect(torchError(() => io.loadSafetensors(dir)).code).toBe('ERR_IO');
    rmSync(dir, { recursive: true });
  });

  it('tidy frees its scope when looking into the result throws (a Proxy handed back), and TorchError takes any message', () => {
    const before = torch.memory().tensors;
    const hostile = new Proxy({}, { get() { throw new RangeError('trap'); }, ownKeys() { throw new RangeError('trap'); }, getPrototypeOf() { throw new RangeError('trap'); } });
    expect(() => torch.tidy(() => { torch.ones([3]).mul(2); return hostile; })).toThrow(/trap/);
    expect(torch.memory().tensors).toBe(before);
    expect(new TorchError([2, {}] as never).message).toBe('[2, {}]');
  });

  it('setNumThreads(2^31) is refused (OpenMP ended the process allocating the team)', () => {
    expect(torchError(() => torch.setNumThreads(2 ** 31)).code).toBe('ERR_INVALID_ARG');
    expect(torchError(() => torch.setNumInteropThreads(1e9)).code).toBe('ERR_INVALID_ARG');
    const n = torch.getNumThreads();
    torch.setNumThreads(2);
    expect(torch.getNumThreads()).toBe(2);
    torch.setNumThreads(n);
  });
});
