// The main job in a reduced size: teacher trained and cached, spectral selection, four student runs, the
// table in metrics.json, and report.html checked in headless Chromium; a second run reuses the teacher.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { torch } from '../dist/index.js';
// The demo module is not part of the package's index; it is what `torchkd demo` runs.
import { runDemo, type DemoOptions, type DemoResult } from '../dist/demo.js';

const SMALL: DemoOptions = {
  labelled: 300, transfer: 1500, test: 1000, teacherSamples: 3000, teacherEpochs: 1, studentEpochs: 2, studentWidth: 1,
  progress: 'none',
};

describe('demo (reduced)', () => {
  it('trains and caches the teacher, selects layers spectrally, trains four students, writes the table and the report', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'torchkd-demo-cache-'));
    const out = mkdtempSync(join(tmpdir(), 'torchkd-demo-'));
    const before = torch.memory().tensors;
    const result: DemoResult = await runDemo({ ...SMALL, out, cacheDir });
    expect(result.rows.map((r) => r.run)).toEqual(['teacher', 'labels only', 'Hinton KD', 'KD + spectral', 'KD + intra']);
    expect(result.rows[0].parameters).toBe(72666);
    for (const r of result.rows.slice(1)) expect(r.parameters).toBe(6274);
    for (const r of result.rows) {
      expect(r.accuracy).toBeGreaterThan(0.2); // chance is 0.1; the runs are a few dozen steps
      expect(r.accuracy).toBeLessThanOrEqual(1);
      expect(r.latencyMs).toBeGreaterThan(0);
      expect(r.trainSeconds).toBeGreaterThan(0);
    }
    // Six teacher conv layers profiled, two selected, three student layers.
    expect(result.spectral.teacher).toHaveLength(6);
    expect(result.spectral.student).toHaveLength(3);
    expect(result.spectral.selected).toHaveLength(2);
    expect([...result.spectral.teacher, ...result.spectral.student].every((v) => Number.isFinite(v) && v > 0)).toBe(true);

    const metrics = JSON.parse(readFileSync(result.metricsPath, 'utf8')) as { runs: unknown[]; spectral: unknown; labelled: number; transfer: number };
    expect(metrics.runs).toEqual(result.rows);
    expect(metrics).toMatchObject({ labelled: 300, transfer: 1500 });
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.safetensors'))).toHaveLength(1);
    for (const run of ['labels-only', 'hinton-kd', 'kd-spectral', 'kd-intra']) {
      expect(existsSync(join(out, run, 'checkpoint-best.safetensors'))).toBe(true);
      expect(existsSync(join(out, run, 'metrics.jsonl'))).toBe(true);
    }

    // The report: every plot rendered with its data, the table with the runs' values.
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
      await page.goto(pathToFileURL(result.reportPath).href, { waitUntil: 'load' });
      const plots = await page.$$eval('figure', (fs) => fs.map((f) => ({ plot: f.dataset.plot, svg: (f.querySelector('svg')?.getBoundingClientRect().width ?? 0) > 100 })));
      expect(plots.map((p) => p.plot)).toEqual(['spectral', 'curves', 'results', 'results', 'results', 'results']);
      expect(plots.every((p) => p.svg)).toBe(true);
      // One point per profiled layer: 6 teacher + 3 student.
      const points = await page.$$eval('figure[data-plot="spectral"] [aria-roledescription="point"]', (els) => els.length);
      expect(points).toBe(9);
      const axis = await page.$eval('figure[data-plot="spectral"]', (f) => f.textContent ?? '');
      for (const l of ['conv1', 'conv6', 'teacher', 'student']) expect(axis).toContain(l);
      const cells = await page.$$eval('table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
      expect(cells.map((c) => c[0])).toEqual(result.rows.map((r) => r.run));
      expect(cells.map((c) => Number(c[1]))).toEqual(result.rows.map((r) => Number(r.accuracy.toFixed(4))));
      const curves = await page.$eval('figure[data-plot="curves"]', (f) => f.textContent ?? '');
      for (const run of ['labels only', 'Hinton KD', 'KD + spectral', 'KD + intra']) expect(curves).toContain(run);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }

    // The second run reuses the cached teacher: same teacher accuracy, no teacher training.
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const again = await runDemo({ ...SMALL, out, cacheDir, progress: 'lines', labelled: 200, transfer: 400, studentEpochs: 1 });
    const lines = log.mock.calls.map((c) => String(c[0]));
    log.mockRestore();
    expect(lines.some((l) => l.startsWith('teacher: reusing '))).toBe(true);
    expect(again.rows[0].accuracy).toBe(result.rows[0].accuracy);
    expect(again.rows[0].trainSeconds).toBe(result.rows[0].trainSeconds);
    expect(torch.memory().tensors).toBe(before);
  }, 300_000);

  it('refuses bad sizes with clear errors', async () => {
    await expect(runDemo({ labelled: 0 })).rejects.toThrow(/labelled must be a positive integer, got 0/);
    await expect(runDemo({ labelled: 50000, transfer: 10000 })).rejects.toThrow(/labelled \+ transfer must be at most 55000/);
    await expect(runDemo({ studentWidth: -1 })).rejects.toThrow(/studentWidth must be positive/);
  });
});
