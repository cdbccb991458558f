// Hugging Face models and tokenizers against Python transformers 5.18 (test/fixtures/hf_make.py builds small
// random models and tokenizers trained on a few sentences, no downloads): outputs with padding, every
// parameter's gradient, token ids on hard text, and folders written by torchkd that Python loads.
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hf, optim, torch, TorchError } from '../dist/index.js';
import { expectClose } from './helpers';
import { hfPy, makeHfFixtures } from './hf-helpers';

type Arr = number[] | number[][] | number[][][] | number[][][][];
interface ModelRef {
  tokenizer: string;
  inputs: Record<string, number[][]>;
  logits: number[][];
  loss: number;
  hiddenStates: Arr[];
  attentions: Arr[];
  lastHiddenState: Arr;
  poolerOutput: number[][] | null;
  grads: Record<string, Arr>;
}
interface Reference {
  texts: string[];
  labels: number[];
  models: Record<string, ModelRef>;
  tokenizers: Record<string, { cases: Record<string, number[][]>[]; tokens: string[][]; decoded: string[]; padTokenId: number; vocabSize: number }>;
  hard: string[];
  cases: { texts: string[]; pairs?: string[]; options: Record<string, unknown> }[];
}

let dir: string;
let ref: Reference;
const ARCHS = ['bert', 'roberta', 'xlmr', 'distilbert'] as const;

/** The reference batch of a model as int64 tensors. */
function inputsOf(name: string): hf.ModelInputs {
  const r = ref.models[name].inputs;
  return {
    inputIds: torch.tensor(r.input_ids, { dtype: 'int64' }),
    attentionMask: torch.tensor(r.attention_mask, { dtype: 'int64' }),
    ...(r.token_type_ids ? { tokenTypeIds: torch.tensor(r.token_type_ids, { dtype: 'int64' }) } : {}),
  };
}

beforeAll(() => {
  dir = makeHfFixtures();
  ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
});

describe('hf models: forward parity with transformers (eager attention, padded batch)', () => {
  for (const name of ARCHS) {
    it(`${name}: logits, every hidden state and attention map within 1e-5; SDPA logits too; the base model`, () => {
      const r = ref.models[name];
      const model = hf.AutoModelForSequenceClassification.fromPretrained(join(dir, name));
      try {
        expect(model.loadingInfo).toEqual({ missingKeys: [], unexpectedKeys: [], mismatchedKeys: [] });
        expect(model.config.id2label).toEqual({ 0: 'book', 1: 'cancel', 2: 'play' });
        expect(model.training).toBe(false);
        torch.tidy(() => {
          const out = model.call({ ...inputsOf(name), outputHiddenStates: true, outputAttentions: true });
          expectClose(out.logits.toArray(), r.logits, 1e-5, 1e-5);
          expect(out.hiddenStates?.length).toBe(3);
          out.hiddenStates?.forEach((h, i) => expectClose(h.toArray(), r.hiddenStates[i], 1e-5, 1e-5));
          const L = r.inputs.input_ids[0].length;
          expect(out.attentions?.map((a) => a.shape)).toEqual([[3, 4, L, L], [3, 4, L, L]]);
          out.attentions?.forEach((a, i) => expectClose(a.toArray(), r.attentions[i], 1e-5, 1e-5));
          const sdpa = model.call(inputsOf(name));
          expect(sdpa.hiddenStates).toBeUndefined();
          expectClose(sdpa.logits.toArray(), r.logits, 1e-5, 1e-5);
        });
      } finally {
        model.dispose();
      }
      const base = hf.AutoModel.fromPretrained(join(dir, name));
      try {
        // A task checkpoint into the base model: the prefix goes, the head is unexpected.
        expect(base.loadingInfo.missingKeys).toEqual(name === 'roberta' || name === 'xlmr' ? ['pooler.dense.weight', 'pooler.dense.bias'] : []);
        expect(base.loadingInfo.unexpectedKeys.length).toBeGreaterThan(0);
        torch.tidy(() => {
          const out = base.call(inputsOf(name));
          expectClose(out.lastHiddenState.toArray(), r.lastHiddenState, 1e-5, 1e-5);
          if (r.poolerOutput && name === 'bert') expectClose((out.poolerOutput as torch.Tensor).toArray(), r.poolerOutput, 1e-5, 1e-5);
        });
      } finally {
        base.dispose();
      }
    });

    it(`${name}: the loss and its gradient w.r.t. every parameter`, () => {
      const r = ref.models[name];
      const model = hf.AutoModelForSequenceClassification.fromPretrained(join(dir, name));
      try {
        torch.tidy(() => {
          const out = model.call({ ...inputsOf(name), labels: torch.tensor(ref.labels, { dtype: 'int64' }) });
          expect(out.loss?.item()).toBeCloseTo(r.loss, 5);
          (out.loss as torch.Tensor).backward();
        });
        const named = model.namedParameters();
        expect(named.map(([k]) => k).sort()).toEqual(Object.keys(r.grads).sort());
        for (const [k, p] of named) {
          try {
            expectClose((p.grad as torch.Tensor).toArray(), r.grads[k], 1e-4, 1e-5);
          } catch (e) {
            throw new Error(`${k}: ${(e as Error).message}`);
          }
        }
      } finally {
        model.zeroGrad();
        model.dispose();
      }
    });
  }

  it('does not leak tensors in a forward with every output', () => {
    const model = hf.AutoModelForSequenceClassification.fromPretrained(join(dir, 'bert'));
    try {
      const inputs = inputsOf('bert');
      const before = torch.memory().tensors;
      torch.tidy(() => { model.call({ ...inputs, outputHiddenStates: true, outputAttentions: true }); });
      torch.noGrad(() => torch.tidy(() => { model.call(inputs); }));
      expect(torch.memory().tensors).toBe(before);
      torch.dispose(Object.values(inputs) as torch.Tensor[]);
    } finally {
      model.dispose();
    }
  });
});

describe('hf tokenizers: token ids equal to transformers on hard text', () => {
  const camel = (v: unknown) => (v === 'max_length' ? 'maxLength' : v === 'only_second' ? 'onlySecond' : v);
  for (const name of ['wp', 'bpe']) {
    it(`${name === 'wp' ? 'WordPiece (BERT)' : 'byte-level BPE (RoBERTa)'}: casing, accents, punctuation, truncation, pairs, padding`, () => {
      const r = ref.tokenizers[name];
      const tok = hf.AutoTokenizer.fromPretrained(join(dir, name));
      expect(tok.padTokenId).toBe(r.padTokenId);
      expect(tok.vocabSize).toBe(r.vocabSize);
      expect(tok.modelMaxLength).toBe(24);
      expect(ref.hard.map((t) => tok.tokenize(t))).toEqual(r.tokens);
      ref.cases.forEach((c, i) => {
        const o = c.options;
        const enc = tok.call(c.texts, {
          textPair: c.pairs, padding: camel(o.padding) as hf.PaddingStrategy, truncation: camel(o.truncation) as hf.TruncationStrategy,
          maxLength: o.max_length as number | undefined, padToMultipleOf: o.pad_to_multiple_of as number | undefined,
        });
        try {
          expect(enc.inputIds.dtype).toBe('int64');
          expect(enc.inputIds.toArray()).toEqual(r.cases[i].input_ids);
          expect(enc.attentionMask.toArray()).toEqual(r.cases[i].attention_mask);
          expect(enc.tokenTypeIds?.toArray()).toEqual(r.cases[i].token_type_ids);
        } catch (e) {
          throw new Error(`case ${i} (${JSON.stringify(o)}): ${(e as Error).message}`);
        } finally {
          torch.dispose(Object.values(enc));
        }
      });
      const ids = tok.encode(ref.hard[0]);
      expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(r.decoded[0]);
      expect(() => tok.call(['a', 'longer text here'])).toThrow(/padding: true/);
      expect(() => tok.call([3 as unknown as string])).toThrow(TorchError);
    });
  }
});

describe('hf folders written by torchkd, read by transformers', () => {
  it('fine-tunes a step in torchkd, saves (also sharded), and Python reproduces the logits', () => {
    const out = mkdtempSync(join(tmpdir(), 'torchkd-hf-save-'));
    const expected: Record<string, number[][]> = {};
    for (const name of ['bert', 'roberta', 'distilbert']) {
      const model = hf.AutoModelForSequenceClassification.fromPretrained(join(dir, name));
      const opt = new optim.AdamW(model.parameters(), { lr: 1e-2 });
      try {
        model.train();
        torch.tidy(() => {
          opt.zeroGrad();
          (model.call({ ...inputsOf(name), labels: torch.tensor(ref.labels, { dtype: 'int64' }) }).loss as torch.Tensor).backward();
          opt.step();
        });
        model.eval();
        expected[name] = torch.noGrad(() => torch.tidy(() => model.call(inputsOf(name)).logits.toArray() as number[][]));
        // The step moved the logits.
        expect(Math.max(...expected[name].flat().map((v, i) => Math.abs(v - ref.models[name].logits.flat()[i])))).toBeGreaterThan(1e-3);
        model.savePretrained(join(out, name), name === 'bert' ? { maxShardSize: 20_000 } : {});
        hf.AutoTokenizer.fromPretrained(join(dir, name)).savePretrained(join(out, name));
      } finally {
        opt.zeroGrad();
        model.dispose();
      }
    }
    const shards = readdirSync(join(out, 'bert')).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(1);
    expect(existsSync(join(out, 'bert', 'model.safetensors.index.json'))).toBe(true);
    // torchkd reads its sharded folder back.
    const again = hf.AutoModelForSequenceClassification.fromPretrained(join(out, 'bert'));
    expectClose(torch.tidy(() => again.call(inputsOf('bert')).logits.toArray()), expected.bert, 1e-6, 1e-6);
    again.dispose();
    const got = hfPy<Record<string, { logits: number[][]; info: Record<string, string[]>; arch: string; labels: Record<string, string> }>>(`
from transformers import AutoModelForSequenceClassification, AutoTokenizer
out = {}
for name, batch in inputs['batches'].items():
    path = inputs['dir'] + '/' + name
    m, info = AutoModelForSequenceClassification.from_pretrained(path, output_loading_info=True)
    m.eval()
    tok = AutoTokenizer.from_pretrained(path)
    enc = tok(inputs['texts'], padding=True, return_tensors='pt')
    assert enc['input_ids'].tolist() == batch['input_ids'], name
    with torch.no_grad():
        logits = m(**{k: torch.tensor(v) for k, v in batch.items()}).logits
    out[name] = {'logits': logits.tolist(), 'info': {k: list(map(str, v)) for k, v in info.items()}, 'arch': type(m).__name__, 'labels': {str(k): v for k, v in m.config.id2label.items()}}
`, { dir: out, texts: ref.texts, batches: Object.fromEntries(['bert', 'roberta', 'distilbert'].map((n) => [n, ref.models[n].inputs])) });
    for (const name of ['bert', 'roberta', 'distilbert']) {
      expect(got[name].info.missing_keys).toEqual([]);
      expect(got[name].info.unexpected_keys).toEqual([]);
      expect(got[name].arch).toBe({ bert: 'BertForSequenceClassification', roberta: 'RobertaForSequenceClassification', distilbert: 'DistilBertForSequenceClassification' }[name]);
      expect(got[name].labels).toEqual({ 0: 'book', 1: 'cancel', 2: 'play' });
      expectClose(got[name].logits, expected[name], 1e-5, 1e-5);
    }
  });

  it('loads pytorch_model.bin base checkpoints with legacy gamma/beta names into a classifier with a new head (numLabels)', () => {
    const legacy = mkdtempSync(join(tmpdir(), 'torchkd-hf-bin-'));
    hfPy(`
from transformers import AutoModel
m = AutoModel.from_pretrained(inputs['src'])
sd = {k.replace('LayerNorm.weight', 'LayerNorm.gamma').replace('LayerNorm.bias', 'LayerNorm.beta'): v for k, v in m.state_dict().items()}
sd['embeddings.position_ids'] = torch.arange(32).unsqueeze(0)
torch.save(sd, inputs['dst'] + '/pytorch_model.bin')
m.config.save_pretrained(inputs['dst'])
out = None
`, { src: join(dir, 'bert'), dst: legacy });
    const model = hf.AutoModelForSequenceClassification.fromPretrained(legacy, { numLabels: 5 });
    try {
      expect(model.config.numLabels).toBe(5);
      expect(model.config.id2label[4]).toBe('LABEL_4');
      expect(model.loadingInfo.missingKeys).toEqual(['classifier.weight', 'classifier.bias']);
      expect(model.loadingInfo.unexpectedKeys).toEqual(['embeddings.position_ids']);
      torch.tidy(() => {
        const out = model.bert.call(inputsOf('bert'));
        expectClose(out.lastHiddenState.toArray(), ref.models.bert.lastHiddenState, 1e-5, 1e-5);
        expect(model.call(inputsOf('bert')).logits.shape).toEqual([3, 5]);
      });
    } finally {
      model.dispose();
    }
    // A head for other labels is an error unless asked for.
    const three = hf.AutoModelForSequenceClassification.fromPretrained(join(dir, 'bert'), { numLabels: 4 });
    expect([...three.loadingInfo.mismatchedKeys].sort()).toEqual(['classifier.bias', 'classifier.weight']);
    three.dispose();
    expect(() => hf.AutoModelForSequenceClassification.fromPretrained(join(dir, 'bert'), { numLabels: 4, ignoreMismatchedSizes: false })).toThrow(/classifier\.bias has shape \[3\], the model expects \[4\]/);
  });

  it('reports bad folders, configurations and inputs as TorchErrors', () => {
    const bad = mkdtempSync(join(tmpdir(), 'torchkd-hf-bad-'));
    expect(() => hf.AutoModelForSequenceClassification.fromPretrained(join(bad, 'nope'))).toThrow(/cannot read .*config\.json/);
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
    expect(() => hf.AutoModel.fromPretrained(bad)).toThrow(/model_type "gpt2" is not supported/);
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ model_type: 'bert', hidden_size: 30, num_attention_heads: 4 }));
    expect(() => hf.AutoModel.fromPretrained(bad)).toThrow(/not a multiple of the number of attention heads/);
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ model_type: 'bert', hidden_size: 16, num_attention_heads: 4 }));
    expect(() => hf.AutoModel.fromPretrained(bad)).toThrow(/no weights/);
    expect(() => hf.AutoTokenizer.fromPretrained(bad)).toThrow(/no tokenizer\.json/);
    const model = hf.AutoModelForSequenceClassification.fromPretrained(join(dir, 'distilbert'));
    try {
      expect(() => model.call({ inputIds: torch.zeros([2, 3]) })).toThrow(/inputIds must be int64/);
      expect(() => model.call({ inputIds: torch.zeros([1, 40], { dtype: 'int64' }) })).toThrow(/exceed max_position_embeddings 32/);
      expect(() => model.call({ inputIds: torch.zeros([2, 3], { dtype: 'int64' }), attentionMask: torch.ones([2, 4]) })).toThrow(/attentionMask must be \[batch, length\] = \[2, 3\]/);
      expect(() => model.call({ inputIds: torch.zeros([2, 3], { dtype: 'int64' }), tokenTypeIds: torch.zeros([2, 3], { dtype: 'int64' }) })).toThrow(/no tokenTypeIds/);
    } finally {
      model.dispose();
    }
  });
});
