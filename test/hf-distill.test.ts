// Distilling Hugging Face transformers: layer maps for any depths (skip, average, weighted, uniform, last,
// spectral, explicit), selectLayers' edge runs, students cut from a teacher or built fresh (loaded by Python
// transformers), TokenIdsClassifier's captured hidden states, and the layer-mapped loss terms against their
// formulas in PyTorch.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { distill, hf, torch } from '../dist/index.js';
import { expectClose } from './helpers';
import { hfPy, makeHfFixtures } from './hf-helpers';

const pairs = (m: distill.LayerPair[]) => m.map((p) => [p.student, p.teacher, p.weights.map((w) => Number(w.toFixed(4)))]);

describe('layer maps for any teacher and student depth', () => {
  it('skip, last, average, weighted and uniform for non-multiple depths; the embeddings shift', () => {
    expect(pairs(distill.layerMap(12, 5, 'skip'))).toEqual([[0, [1], [1]], [1, [4], [1]], [2, [6], [1]], [3, [9], [1]], [4, [11], [1]]]);
    expect(pairs(distill.layerMap(12, 5, 'last'))).toEqual([[0, [7], [1]], [1, [8], [1]], [2, [9], [1]], [3, [10], [1]], [4, [11], [1]]]);
    expect(pairs(distill.layerMap(7, 3, 'average'))).toEqual([[0, [0, 1], [0.5, 0.5]], [1, [2, 3], [0.5, 0.5]], [2, [4, 5, 6], [0.3333, 0.3333, 0.3333]]]);
    expect(pairs(distill.layerMap(12, 5, 'uniform'))).toEqual([[0, [0], [1]], [1, [2], [1]], [2, [5], [1]], [3, [7], [1]], [4, [10], [1]], [5, [12], [1]]]);
    expect(pairs(distill.layerMap(24, 12, 'weighted', { weights: [0.3, 0.7], embeddings: true })).slice(0, 2)).toEqual([[1, [1, 2], [0.3, 0.7]], [2, [3, 4], [0.3, 0.7]]]);
    expect(pairs(distill.layerMap(6, 3, 'skip', { embeddings: true }))).toEqual([[1, [2], [1]], [2, [4], [1]], [3, [6], [1]]]);
    expect(() => distill.layerMap(7, 3, 'weighted', { weights: [0.3, 0.7] })).toThrow(/groups of 2 teacher layers, but 7 teacher layers over 3 student layers give groups of 2 and 3/);
    expect(() => distill.layerMap(4, 6, 'skip')).toThrow(/the student has 6 layers, the teacher 4/);
    expect(() => distill.layerMap(4, 2, [[0, -1]])).toThrow(/non-negative integers/);
    expect(() => distill.layerMap(4, 2, 'every' as distill.LayerMapStrategy)).toThrow(/unknown strategy "every"/);
  });

  it("spectral: top-k, threshold and the U-shaped profile's edge runs, paired in order", () => {
    // A U over 24 layers (embeddings first): high at layers 1-2 and 15-24.
    const u = [10, 9, 8, 7, 6, 5, 4, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 13, 12, 11];
    expect(distill.selectLayers(u.slice(1), { strategy: 'edges' }).map((i) => i + 1)).toEqual([1, 2, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    expect(distill.selectLayers(u.slice(1), { strategy: 'edges', k: 3 }).map((i) => i + 1)).toEqual([20, 21, 22]);
    // 12 edge layers for 6 student layers: spread evenly, both arms kept.
    expect(pairs(distill.layerMap(24, 6, 'spectral', { profile: u, embeddings: true, select: { strategy: 'edges' } })).map((p) => p[1][0]))
      .toEqual([1, 15, 17, 20, 22, 24]);
    // Top-6 (the default): the 6 most intense layers, in depth order (the shallower one on ties).
    expect(pairs(distill.layerMap(24, 6, 'spectral', { profile: u, embeddings: true })).map((p) => p[1][0])).toEqual([18, 19, 20, 21, 22, 23]);
    // Fewer layers than the student has: each at its relative depth.
    expect(pairs(distill.layerMap(24, 6, 'spectral', { profile: u.slice(1), select: { strategy: 'threshold', k: 0.99 } }))).toEqual([[4, [20], [1]]]);
    expect(pairs(distill.layerMap(4, 4, 'spectral', { profile: [1, 9, 1, 8], select: { strategy: 'top', k: 2 } }))).toEqual([[1, [1], [1]], [3, [3], [1]]]);
    expect(() => distill.layerMap(24, 6, 'spectral', { profile: [1, 2] })).toThrow(/profile with 24 entries \(one per layer\) or 25/);
    // A student cut by this map starts from the paired layers; unpaired ones from the 'skip' layer.
    expect(distill.initialLayers(distill.layerMap(4, 4, 'spectral', { profile: [1, 9, 1, 8], select: { strategy: 'top', k: 2 } }), 4, 4)).toEqual([0, 1, 2, 3]);
    expect(distill.initialLayers(distill.layerMap(4, 2, 'weighted', { weights: [0.3, 0.7] }), 2)).toEqual([1, 3]);
    expect(() => distill.initialLayers([], 2)).toThrow(/no pair for student layer 0/);
  });
});

describe('transformer students and their terms', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeHfFixtures();
  });
  const batch = () => {
    const tok = hf.AutoTokenizer.fromPretrained(join(dir, 'wp'));
    const enc = tok.call(['Book a flight to Paris tomorrow morning!', 'Play jazz', 'Cancel the alarm'], { padding: true });
    enc.tokenTypeIds?.dispose();
    return { inputIds: enc.inputIds, attentionMask: enc.attentionMask };
  };

  it('cuts a student from chosen teacher layers and builds a fresh smaller one; Python loads both', () => {
    const teacher = hf.AutoModelForSequenceClassification.fromPretrained(join(dir, 'bert'));
    const out = mkdtempSync(join(tmpdir(), 'torchkd-students-'));
    const cut = hf.studentFromTeacher(teacher, [1]);
    const fresh = hf.freshStudent(teacher, { numHiddenLayers: 1, hiddenSize: 8, numAttentionHeads: 2, intermediateSize: 16 });
    const inputs = batch();
    try {
      expect(cut.config.numHiddenLayers).toBe(1);
      expect(cut.numParameters()).toBeLessThan(teacher.numParameters());
      torch.tidy(() => {
        expect(cut.stateDict()['bert.encoder.layer.0.attention.self.query.weight'].equal(teacher.stateDict()['bert.encoder.layer.1.attention.self.query.weight'])).toBe(true);
        expect(cut.stateDict()['classifier.weight'].equal(teacher.stateDict()['classifier.weight'])).toBe(true);
      });
      expect(() => hf.studentFromTeacher(teacher, [2])).toThrow(/teacher layer 2 does not exist \(the teacher has layers 0\.\.1\)/);
      cut.savePretrained(join(out, 'cut'));
      fresh.savePretrained(join(out, 'fresh'));
      const ours = torch.noGrad(() => torch.tidy(() => ({ cut: cut.eval().call(inputs).logits.toArray(), fresh: fresh.eval().call(inputs).logits.toArray() })));
      const ref = hfPy<{ cut: number[][]; fresh: number[][]; hidden: number }>(`
from transformers import AutoModelForSequenceClassification
t = AutoModelForSequenceClassification.from_pretrained(inputs['teacher']).eval()
t.bert.encoder.layer = torch.nn.ModuleList([t.bert.encoder.layer[1]])
args = dict(input_ids=torch.tensor(inputs['ids']), attention_mask=torch.tensor(inputs['mask']))
fresh = AutoModelForSequenceClassification.from_pretrained(inputs['fresh']).eval()
with torch.no_grad():
    out = dict(cut=t(**args).logits.tolist(), fresh=fresh(**args).logits.tolist(), hidden=fresh.config.hidden_size)
cut = AutoModelForSequenceClassification.from_pretrained(inputs['cut']).eval()
with torch.no_grad():
    assert torch.allclose(cut(**args).logits, torch.tensor(out['cut']), atol=1e-6)
`, { teacher: join(dir, 'bert'), cut: join(out, 'cut'), fresh: join(out, 'fresh'), ids: inputs.inputIds.toArray(), mask: inputs.attentionMask.toArray() });
      expectClose(ours.cut, ref.cut, 1e-5, 1e-5);
      expectClose(ours.fresh, ref.fresh, 1e-5, 1e-5);
      expect(ref.hidden).toBe(8);
    } finally {
      for (const m of [teacher, cut, fresh]) m.dispose();
      torch.dispose(Object.values(inputs));
    }
  });

  it('TokenIdsClassifier: logits from padded ids, hidden states and attention maps at capture paths', () => {
    const model = hf.AutoModelForSequenceClassification.fromPretrained(join(dir, 'distilbert'));
    const wrapped = new hf.TokenIdsClassifier(model, { outputAttentions: true });
    const inputs = batch();
    try {
      expect(wrapped.hiddenStatePaths()).toEqual(['hidden_states.0', 'hidden_states.1', 'hidden_states.2']);
      expect(Object.keys(wrapped.stateDict()).every((k) => k.startsWith('model.distilbert.') || k.startsWith('model.pre_classifier') || k.startsWith('model.classifier'))).toBe(true);
      torch.tidy(() => {
        const direct = model.call({ ...inputs, outputHiddenStates: true, outputAttentions: true });
        const captured = distill.captureLayers(wrapped, [...wrapped.hiddenStatePaths(), ...wrapped.attentionPaths()], inputs.inputIds);
        const expected = [...(direct.hiddenStates as torch.Tensor[]), ...(direct.attentions as torch.Tensor[])];
        captured.forEach((c, i) => expectClose(c.toArray(), expected[i].toArray(), 1e-6, 1e-6));
        expectClose(wrapped.call(inputs.inputIds).toArray(), direct.logits.toArray(), 1e-6, 1e-6);
      });
    } finally {
      wrapped.dispose();
      torch.dispose(Object.values(inputs));
    }
  });

  it('terms.hiddenStates and terms.attentionMaps: masked MSE over the map, a learned projection for other widths (PyTorch formulas)', () => {
    torch.manualSeed(5);
    const B = 2;
    const L = 4;
    const mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], { dtype: 'int64' });
    const sH = [0, 1, 2].map(() => torch.randn([B, L, 6]));
    const tH = [0, 1, 2, 3, 4].map(() => torch.randn([B, L, 6]));
    const att = (H: number) => torch.randn([B, H, L, L]).softmax(-1);
    const sA = [att(2), att(2)];
    const tA = [att(4), att(4), att(4), att(4)];
    const map = distill.layerMap(4, 2, 'weighted', { weights: [0.3, 0.7], embeddings: true });
    const features = (xs: torch.Tensor[], prefix: string) => Object.fromEntries(xs.map((x, i) => [`${prefix}.${i}`, x]));
    const ctx = {
      input: torch.tensor([[5, 6, 7, 0], [5, 6, 0, 0]], { dtype: 'int64' }),
      student: { logits: torch.zeros([B, 3]), features: { ...features(sH, 'h'), ...features(sA, 'a') } },
      teachers: [{ logits: torch.zeros([B, 3]), features: { ...features(tH, 'h'), ...features(tA, 'a') } }],
      step: 0, totalSteps: 1, epoch: 0, epochs: 1,
    };
    const paths = (n: number, p: string) => [...Array(n).keys()].map((i) => `${p}.${i}`);
    const hidden = distill.terms.hiddenStates({ map, studentPaths: paths(3, 'h'), teacherPaths: paths(5, 'h'), mask: (c) => c.input.ne(0) });
    const attention = distill.terms.attentionMaps({ map, studentPaths: paths(2, 'a'), teacherPaths: paths(4, 'a'), mask: (c) => c.input.ne(0) });
    expect(hidden.studentFeatures).toEqual(['h.1', 'h.2']);
    expect(attention.teacherFeatures).toEqual(['a.0', 'a.1', 'a.2', 'a.3']);
    const ours = { hidden: hidden.compute(ctx).item(), attention: attention.compute(ctx).item() };
    const ref = hfPy<{ hidden: number; attention: number }>(`
sH = [torch.tensor(x) for x in inputs['sH']]; tH = [torch.tensor(x) for x in inputs['tH']]
sA = [torch.tensor(x) for x in inputs['sA']]; tA = [torch.tensor(x) for x in inputs['tA']]
m = torch.tensor(inputs['mask'], dtype=torch.float32)
def mse(s, t):  # TextBrewer's hid_mse_loss with a mask: mean over real tokens and the hidden axis
    return (((s - t) ** 2).mean(-1) * m).sum() / m.sum()
hidden = mse(sH[1], 0.3 * tH[1] + 0.7 * tH[2]) + mse(sH[2], 0.3 * tH[3] + 0.7 * tH[4])
pairs = m[:, None, :, None] * m[:, None, None, :]
def amse(s, t):  # head counts differ: both averaged over heads, then the masked mean over (query, key)
    s, t = s.mean(1, keepdim=True), t.mean(1, keepdim=True)
    return (((s - t) ** 2) * pairs).sum() / pairs.sum()
attention = amse(sA[0], 0.3 * tA[0] + 0.7 * tA[1]) + amse(sA[1], 0.3 * tA[2] + 0.7 * tA[3])
out = dict(hidden=hidden.item(), attention=attention.item())
`, { sH: sH.map((x) => x.toArray()), tH: tH.map((x) => x.toArray()), sA: sA.map((x) => x.toArray()), tA: tA.map((x) => x.toArray()), mask: mask.toArray() });
    expect(ours.attention).toBeCloseTo(ref.attention, 6);
    expect(ours.hidden).toBeCloseTo(ref.hidden, 5);
    // Other widths: one shared nn.Linear (TinyBERT's W_h), created on first use and exposed for training.
    const narrowH = sH.map((x) => x.narrow(2, 0, 4));
    const narrow = { ...ctx, student: { ...ctx.student, features: features(narrowH, 'h') } };
    const projected = distill.terms.hiddenStates({ map, studentPaths: paths(3, 'h'), teacherPaths: paths(5, 'h') });
    const shared = projected.compute(narrow).item();
    expect(Object.keys(projected.modules ?? {})).toEqual(['proj']);
    const linear = (m: unknown) => m as { weight: torch.Tensor; bias: torch.Tensor };
    expect(linear(projected.modules?.proj).weight.shape).toEqual([6, 4]);
    // One projection per pair, the cosine loss and the mask: the same formula in PyTorch with those weights.
    const perPair = distill.terms.hiddenStates({ map, studentPaths: paths(3, 'h'), teacherPaths: paths(5, 'h'), projection: 'perPair', loss: 'cosine', mask: (c) => c.input.ne(0) });
    const cosine = perPair.compute(narrow).item();
    expect(Object.keys(perPair.modules ?? {})).toEqual(['proj0', 'proj1']);
    const w = (m: unknown) => ({ w: linear(m).weight.toArray(), b: linear(m).bias.toArray() });
    const projRef = hfPy<{ shared: number; cosine: number }>(`
import torch.nn.functional as F
sH = [torch.tensor(x) for x in inputs['sH']]; tH = [torch.tensor(x) for x in inputs['tH']]
m = torch.tensor(inputs['mask'], dtype=torch.float32)
lin = lambda p, x: x @ torch.tensor(p['w']).T + torch.tensor(p['b'])
t1, t2 = 0.3 * tH[1] + 0.7 * tH[2], 0.3 * tH[3] + 0.7 * tH[4]
shared = ((lin(inputs['shared'], sH[1]) - t1) ** 2).mean() + ((lin(inputs['shared'], sH[2]) - t2) ** 2).mean()
def cos(s, t):  # TextBrewer's cos_loss with a mask: mean over real tokens of 1 - cosine along the hidden axis
    return ((1 - F.cosine_similarity(s, t, dim=-1)) * m).sum() / m.sum()
cosine = cos(lin(inputs['p0'], sH[1]), t1) + cos(lin(inputs['p1'], sH[2]), t2)
out = dict(shared=shared.item(), cosine=cosine.item())
`, { sH: narrowH.map((x) => x.toArray()), tH: tH.map((x) => x.toArray()), mask: mask.toArray(), shared: w(projected.modules?.proj), p0: w(perPair.modules?.proj0), p1: w(perPair.modules?.proj1) });
    expect(shared).toBeCloseTo(projRef.shared, 5);
    expect(cosine).toBeCloseTo(projRef.cosine, 5);
    expect(() => distill.terms.hiddenStates({ map: [], studentPaths: [], teacherPaths: [] })).toThrow(/the layer map is empty/);
  });
});
