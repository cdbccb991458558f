// The main job at its --quick size: teacher trained and cached, spectral selection, four student methods
// over two seeds (mean ± std, paired comparisons), metrics.json, and report.html checked in headless
// Chromium; a second run reuses the teacher.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { torch } from '../dist/index.js';
// The demo module is not part of the package's index; it is what `torchkd demo` runs.
import { runDemo, type DemoOptions, type DemoResult } from '../dist/demo.js';

const SMALL: DemoOptions = { quick: true, progress: 'none' };
const METHODS = ['labels only', 'Hinton KD', 'KD + spectral', 'KD + intra'];

describe('demo (reduced)', () => {
  it('trains and caches the teacher, selects layers spectrally, trains four students, writes the table and the report', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'torchkd-demo-cache-'));
    const out = mkdtempSync(join(tmpdir(), 'torchkd-demo-'));
    const before = torch.memory().tensors;
    const result: DemoResult = await runDemo({ ...SMALL, out, cacheDir });
    expect(result.seeds).toEqual([0, 1]);
    expect(result.rows.map((r) => r.run)).toEqual(['teacher', ...METHODS]);
    expect(result.rows[0].parameters).toBe(72666);
    for (const r of result.rows.slice(1)) expect(r.parameters).toBe(6274);
    for (const r of result.rows) {
      expect(r.accuracy).toBeGreaterThan(0.2); // chance is 0.1; the runs are about a hundred steps
      expect(r.accuracy).toBeLessThanOrEqual(1);
      expect(r.latencyMs).toBeGreaterThan(0);
      expect(r.trainSeconds).toBeGreaterThan(0);
    }
    // Each method: one accuracy per seed, their mean and sample standard deviation.
    for (const r of result.rows.slice(1)) {
      expect(r.accuracies).toHaveLength(2);
      const [a, b] = r.accuracies;
      expect(r.accuracy).toBeCloseTo((a + b) / 2, 12);
      expect(r.accuracyStd).toBeCloseTo(Math.abs(a - b) / Math.SQRT2, 12);
    }
    // Paired comparisons against labels only and Hinton KD, from the per-seed accuracies.
    expect(result.comparisons.map((c) => `${c.run} − ${c.baseline}`)).toEqual([
      'Hinton KD − labels only', 'KD + spectral − labels only', 'KD + intra − labels only', 'KD + spectral − Hinton KD', 'KD + intra − Hinton KD',
    ]);
    const acc = (run: string) => result.rows.find((r) => r.run === run)!.accuracies;
    for (const c of result.comparisons) {
      expect(c.n).toBe(2);
      expect(c.meanDiff).toBeCloseTo((acc(c.run)[0] - acc(c.baseline)[0] + acc(c.run)[1] - acc(c.baseline)[1]) / 2, 12);
      expect(c.significant).toBe(c.ci !== null && (c.ci[0] > 0 || c.ci[1] < 0));
    }
    // Six teacher conv layers profiled, two selected; three layers of each method's student.
    expect(result.spectral.teacher).toHaveLength(6);
    expect(result.spectral.selected).toHaveLength(2);
    expect(Object.keys(result.spectral.students)).toEqual(METHODS);
    for (const p of Object.values(result.spectral.students)) expect(p).toHaveLength(3);
    expect([...result.spectral.teacher, ...Object.values(result.spectral.students).flat()].every((v) => Number.isFinite(v) && v > 0)).toBe(true);

    const metrics = JSON.parse(readFileSync(result.metricsPath, 'utf8')) as { runs: unknown[]; comparisons: unknown[]; labelled: number; transfer: number; seeds: number[] };
    expect(metrics.runs).toEqual(result.rows);
    expect(metrics.comparisons).toEqual(JSON.parse(JSON.stringify(result.comparisons)));
    expect(metrics).toMatchObject({ labelled: 300, transfer: 1500, seeds: [0, 1] });
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.safetensors'))).toHaveLength(1);
    for (const run of ['labels-only', 'hinton-kd', 'kd-spectral', 'kd-intra']) {
      for (const seed of [0, 1]) {
        expect(existsSync(join(out, run, `seed-${seed}`, 'checkpoint-best.safetensors'))).toBe(true);
        expect(existsSync(join(out, run, `seed-${seed}`, 'metrics.jsonl'))).toBe(true);
      }
    }

    // The report: every plot rendered with its data, the table with the runs' values.
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
      await page.goto(pathToFileURL(result.reportPath).href, { waitUntil: 'load' });
      const plots = await page.$$eval('figure', (fs) => fs.map((f) => ({ plot: f.dataset.plot, svg: (f.querySelector('svg')?.getBoundingClientRect().width ?? 0) > 100 })));
      expect(plots.map((p) => p.plot)).toEqual(['spectral', 'curves', 'results', 'results', 'results', 'results', 'confusion']);
      expect(plots.every((p) => p.svg)).toBe(true);
      // One point per profiled layer: 6 teacher + 3 for each of the four students.
      const points = await page.$$eval('figure[data-plot="spectral"] [aria-roledescription="point"]', (els) => els.length);
      expect(points).toBe(6 + 4 * 3);
      const axis = await page.$eval('figure[data-plot="spectral"]', (f) => f.textContent ?? '');
      for (const l of ['conv1', 'conv6', 'teacher', ...METHODS.map((m) => `student: ${m}`)]) expect(axis).toContain(l);
      const tables = await page.$$eval('table', (ts) => ts.map((t) => [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent))));
      expect(tables).toHaveLength(2);
      const [cells, comparisons] = tables;
      expect(cells.map((c) => c[0])).toEqual(result.rows.map((r) => r.run));
      expect(cells.map((c) => Number(c[1]))).toEqual(result.rows.map((r) => Number((100 * r.accuracy).toFixed(2))));
      expect(cells.map((c) => Number(c[2]))).toEqual(result.rows.map((r) => Number((100 * r.accuracyStd).toFixed(2))));
      expect(comparisons.map((c) => c[0])).toEqual(result.comparisons.map((c) => `${c.run} − ${c.baseline}`));
      expect(comparisons.map((c) => c[5])).toEqual(result.comparisons.map((c) => (c.significant ? 'larger than the noise' : 'within the noise')));
      // The accuracy bars carry error bars (one rule per run).
      const rules = await page.$eval('figure[data-metric="test accuracy (%)"]', (f) => f.querySelectorAll('[aria-roledescription="rule mark"]').length);
      expect(rules).toBe(5);
      // Confusion matrices: teacher, labels only, the best distilled method; 100 cells each, counts summing to the test set.
      const confusion = await page.$eval('figure[data-plot="confusion"]', (f) => ({
        cells: f.querySelectorAll('[aria-roledescription="rect mark"]').length, text: f.textContent ?? '',
      }));
      expect(confusion.cells).toBe(300);
      expect(confusion.text).toContain('teacher (');
      expect(confusion.text).toContain('student: labels only (seed 0)');
      const curves = await page.$eval('figure[data-plot="curves"]', (f) => f.textContent ?? '');
      for (const run of METHODS) expect(curves).toContain(run);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }

    // The second run reuses the cached teacher: same teacher accuracy, no teacher training.
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const again = await runDemo({ ...SMALL, out, cacheDir, progress: 'lines', labelled: 200, transfer: 400, studentEpochs: 1, seeds: 1 });
    const lines = log.mock.calls.map((c) => String(c[0]));
    log.mockRestore();
    expect(lines.some((l) => l.startsWith('teacher: reusing '))).toBe(true);
    // One seed: no test, and the output says so.
    expect(again.comparisons.every((c) => c.p === null && !c.significant)).toBe(true);
    expect(lines.some((l) => l.includes('one seed: no test'))).toBe(true);
    expect(again.rows[0].accuracy).toBe(result.rows[0].accuracy);
    expect(again.rows[0].trainSeconds).toBe(result.rows[0].trainSeconds);
    expect(torch.memory().tensors).toBe(before);
  }, 600_000);

  it('refuses bad sizes with clear errors', async () => {
    await expect(runDemo({ labelled: 0 })).rejects.toThrow(/labelled must be a positive integer, got 0/);
    await expect(runDemo({ labelled: 50000, transfer: 10000 })).rejects.toThrow(/labelled \+ transfer must be at most 55000/);
    await expect(runDemo({ studentWidth: -1 })).rejects.toThrow(/studentWidth must be positive/);
    await expect(runDemo({ seeds: 0 })).rejects.toThrow(/seeds must be a positive integer, got 0/);
    await expect(runDemo({ quick: true, seeds: 1.5 })).rejects.toThrow(/seeds must be a positive integer, got 1.5/);
  });
});
