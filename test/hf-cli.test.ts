// `torchkd text --teacher DIR` end to end on a small intent set: a Hugging Face teacher folder made in
// Python, fine-tuned, distilled into a student cut from it (and a fresh one, TinyBERT's two stages), the
// students written as Hugging Face folders that Python transformers loads and runs to the same logits.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hf, torch } from '../dist/index.js';
// @ts-expect-error plain ESM script without types
import { generateIntents, toJsonl } from '../scripts/synth-intents.mjs';
import { expectClose } from './helpers';
import { hfPy, transformersPython } from './hf-helpers';

const root = join(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'torchkd-hf-cli-'));
const write = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const train = write('train.jsonl', toJsonl(generateIntents(300, { seed: 1 })) as string);
const test = write('test.jsonl', toJsonl(generateIntents(100, { seed: 2 })) as string);
const teacher = join(dir, 'teacher');

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, TORCHKD_DEBUG: '' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  execFileSync(transformersPython(), [join(__dirname, 'fixtures', 'hf_teacher.py'), train, teacher, '2', '32'], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TRANSFORMERS_VERBOSITY: 'error' },
  });
});

describe('torchkd text --teacher DIR', { timeout: 900_000 }, () => {
  it('says when the teacher\'s head is not for these labels, and rejects bad layer maps and student configs', () => {
    let r = cli(['text', '--train', train, '--test', test, '--teacher', teacher, '--out', join(dir, 'x'), '--progress', 'none']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/the teacher's labels \("LABEL_0", "LABEL_1"\) are not the 20 labels of .*train\.jsonl; pass --finetune-teacher/);
    r = cli(['text', '--train', train, '--test', test, '--teacher', teacher, '--finetune-teacher', '--layer-map', 'weighted', '--out', join(dir, 'x'), '--progress', 'none']);
    expect(r.stderr).toMatch(/--layer-map "weighted": 'weighted' needs its weights, e.g. weighted:0.3,0.7/);
    r = cli(['text', '--train', train, '--test', test, '--teacher', teacher, '--finetune-teacher', '--student-config', '3x30x4', '--out', join(dir, 'x'), '--progress', 'none']);
    expect(r.stderr).toMatch(/--student-config 3x30x4: 4 heads do not divide the width 30/);
    r = cli(['text', '--train', train, '--test', test, '--layer-map', 'skip', '--out', join(dir, 'x'), '--progress', 'none']);
    expect(r.stderr).toMatch(/layerMap applies to a Hugging Face teacher \(--teacher DIR\) only/);
  });

  it('fine-tunes the teacher, distils a student cut from it over a spectral map, and Python loads the student', () => {
    const out = join(dir, 'cut');
    const r = cli(['text', '--train', train, '--test', test, '--teacher', teacher, '--finetune-teacher', '--epochs', '1', '--teacher-lr', '1e-3',
      '--student-lr', '1e-3', '--student-layers', '1', '--layer-map', 'spectral:top=1', '--spectral-samples', '32', '--out', out, '--progress', 'none']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^model\s+test accuracy\s+parameters/);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(m.data).toMatchObject({ train: 270, valid: 30, test: 100, classes: 20 });
    expect(m.hf.student).toBe('cut');
    expect(m.hf.studentLayers).toBe(1);
    expect(m.hf.spectral.teacher).toHaveLength(3);
    expect(m.hf.spectral.student).toHaveLength(2);
    expect(m.hf.layerMap).toHaveLength(1);
    expect(m.hf.initialLayers).toEqual([m.hf.layerMap[0].teacher[0] - 1]);
    for (const run of ['teacher', 'student', 'scratch']) {
      expect(existsSync(join(out, run, 'config.json')), run).toBe(true);
      expect(existsSync(join(out, run, 'tokenizer.json')), run).toBe(true);
      expect(m[run].accuracy).toBeGreaterThanOrEqual(0);
    }
    expect(m.student.parameters).toBe(m.scratch.parameters);
    expect(m.teacher.parameters).toBeGreaterThan(m.student.parameters);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/spectral/i);
    expect(html).toMatch(/layer map spectral:top=1/);
    // Python runs the student folder on the test texts; torchkd's student gives the same logits.
    const texts = readFileSync(test, 'utf8').trim().split('\n').slice(0, 8).map((l) => JSON.parse(l).text as string);
    const ref = hfPy<{ logits: number[][]; labels: string[]; layers: number }>(`
from transformers import AutoModelForSequenceClassification, AutoTokenizer
tok = AutoTokenizer.from_pretrained(inputs['dir'])
m = AutoModelForSequenceClassification.from_pretrained(inputs['dir']).eval()
with torch.no_grad():
    logits = m(**tok(inputs['texts'], padding=True, truncation=True, max_length=32, return_tensors='pt')).logits
out = dict(logits=logits.tolist(), labels=[m.config.id2label[i] for i in range(m.config.num_labels)], layers=m.config.num_hidden_layers)
`, { dir: join(out, 'student'), texts });
    expect(ref.layers).toBe(1);
    expect(ref.labels).toEqual(m.hf.labels);
    const tok = hf.AutoTokenizer.fromPretrained(join(out, 'student'));
    const student = hf.AutoModelForSequenceClassification.fromPretrained(join(out, 'student'));
    const enc = tok.call(texts, { padding: true, truncation: true, maxLength: 32 });
    expectClose(torch.noGrad(() => torch.tidy(() => student.call(enc).logits.toArray())), ref.logits, 1e-5, 1e-5);
    student.dispose();
    torch.dispose(Object.values(enc));
  });

  it('distils a fresh smaller student with projections, attention maps and TinyBERT\'s two stages', () => {
    const out = join(dir, 'fresh');
    const r = cli(['text', '--train', train, '--test', test, '--teacher', join(dir, 'cut', 'teacher'), '--epochs', '2', '--student-lr', '1e-3',
      '--student-config', '1x16x2', '--layer-map', 'uniform', '--attention-weight', '1', '--two-stage', '--out', out, '--progress', 'lines']);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(m.hf.student).toBe('fresh');
    expect(m.hf.layerMap.map((p: { student: number; teacher: number[] }) => [p.student, p.teacher])).toEqual([[0, [0]], [1, [2]]]);
    expect(m.teacher.trainSeconds).toBe(0);
    // The teacher was already fine-tuned for these labels: its folder's labels are used as they are.
    expect(m.hf.labels).toEqual(JSON.parse(readFileSync(join(dir, 'cut', 'metrics.json'), 'utf8')).hf.labels);
    // The progress lines name each stage's terms: hidden states and attention maps, then CE and KD.
    const lines = r.stderr.split('\n');
    const stage1 = lines.filter((l) => /^student-intermediate step \d+\/\d+/.test(l));
    expect(stage1.length).toBeGreaterThan(0);
    for (const l of stage1) expect(l).toMatch(/loss \S+ +hidden \S+ +attention \S+$/);
    const stage2 = lines.filter((l) => /^student step \d+\/\d+/.test(l));
    for (const l of stage2) expect(l).toMatch(/loss \S+ +ce \S+ +kd \S+$/);
    expect(existsSync(join(out, 'student-intermediate', 'checkpoint-best.safetensors'))).toBe(true);
    const config = JSON.parse(readFileSync(join(out, 'student', 'config.json'), 'utf8'));
    expect(config).toMatchObject({ hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, architectures: ['BertForSequenceClassification'] });
  });
});
