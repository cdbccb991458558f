// The HTML report: SVG plots rendered by vega-lite in Node (marks and labels checked against the data), the
// page opened in headless Chromium (figures laid out, marks counted, labels, table cells, no console error, no
// request), input checks, the atomic write, and loading vega (ESM) from the CommonJS and ESM builds on Node 20
// and 22.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { node22Binary, py } from './helpers';
import { report, TorchError } from '../dist/index.js';

const root = join(__dirname, '..');

const TEACHER_LAYERS = Array.from({ length: 12 }, (_, i) => `encoder.layer.${i}`);
const teacher: report.SpectralSeries = {
  model: 'teacher',
  layers: TEACHER_LAYERS,
  intensity: TEACHER_LAYERS.map((_, i) => 2 + Math.cos((i / 11) * 2 * Math.PI) + 0.1 * i),
  selected: [0, 1, 11],
};
const student: report.SpectralSeries = { model: 'student', layers: ['block1', 'block2', 'block3', 'block4'], intensity: [2.5, 1.8, 1.9, 2.7], selected: [3] };

const RUNS = ['teacher', 'student-kd', 'student "scratch"'];
/** Train loss every 100 steps (21 values per run), valid accuracy every 200 (11 per run). */
function curvePoints(lossEvery = 100, steps = 2000): report.CurvePoint[] {
  const points: report.CurvePoint[] = [];
  RUNS.forEach((run, r) => {
    for (let step = 0; step <= steps; step += lossEvery) points.push({ run, step, metric: 'train loss', value: 2 * Math.exp(-step / (500 + 300 * r)) + 0.1 });
    for (let step = 0; step <= steps; step += 200) points.push({ run, step, metric: 'valid accuracy', value: 0.9 - 0.5 * Math.exp(-step / 600) - 0.02 * r });
  });
  return points;
}

const TABLE: report.ResultsTable = {
  columns: ['run', 'accuracy (%)', 'parameters', 'latency (ms)', 'notes'],
  rows: [
    ['teacher', 91.23, 11173962, 4.213, 'reference'],
    ['student-kd', 88.71, 101770, 0.312345678, 'T=4 & α=0.9'],
    ['student "scratch"', 86.9, 101770, 0.31, '<none>'],
  ],
};

const count = (s: string, needle: string) => s.split(needle).length - 1;
const decode = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
/** The texts of an SVG string's text marks of one role (axis labels, legend labels, axis titles...), in order. */
function texts(svg: string, role: string): string[] {
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-text ${role}[ "][^>]*>(.*?)</g>`, 'g'))].map((m) => m[1]);
  return groups.flatMap((g) => [...g.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decode(m[1])));
}
/** The `d` of each line mark, as its list of [x, y] vertices. */
function lines(svg: string): number[][][] {
  return [...svg.matchAll(/aria-roledescription="line mark" d="([^"]*)"/g)].map((m) =>
    m[1].split(/[ML]/).filter(Boolean).map((xy) => xy.split(',').map(Number)));
}

describe('SVG plots (vega-lite rendered in Node)', () => {
  it('spectralPlotSvg: one panel per model for different layers, a point per layer, the selected ones marked', async () => {
    const warn = vi.spyOn(console, 'warn');
    const svg = await report.spectralPlotSvg([teacher, student]);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
    expect(svg.startsWith('<svg')).toBe(true);
    expect(count(svg, 'aria-roledescription="point"')).toBe(16);
    expect(count(svg, 'aria-roledescription="line mark"')).toBe(2);
    expect(count(svg, ' (selected)" role="graphics-symbol" aria-roledescription="point"')).toBe(4);
    expect(count(svg, 'aria-roledescription="rule mark"')).toBe(4);
    // Each panel's x axis lists its layers in depth order.
    expect(texts(svg, 'role-axis-label').filter((t) => !/^\d/.test(t))).toEqual([...TEACHER_LAYERS, ...student.layers]);
    expect(texts(svg, 'role-legend-label')).toEqual(['student', 'teacher', 'selected', 'other']);
    expect(texts(svg, 'role-axis-title')).toContain('spectral intensity');
    // The line goes through one vertex per layer, higher on screen for higher intensity.
    const [tLine] = lines(svg);
    expect(tLine).toHaveLength(12);
    const ys = tLine.map(([, y]) => y);
    const v = teacher.intensity;
    const [lo, hi] = [v.indexOf(Math.min(...v)), v.indexOf(Math.max(...v))];
    const slope = (ys[hi] - ys[lo]) / (v[hi] - v[lo]);
    expect(slope).toBeLessThan(0);
    // vega writes coordinates to 3 decimals.
    ys.forEach((y, i) => expect(y - ys[lo]).toBeCloseTo(slope * (v[i] - v[lo]), 2));
  });

  it('spectralPlotSvg: models with the same layers share one panel; no selection, no markers', async () => {
    const layers = ['a<b', 'c&d', 'e'];
    const svg = await report.spectralPlotSvg([
      { model: 'T "big"', layers, intensity: [1, 3, 2] }, { model: 'S', layers, intensity: [1.5, 2, 2.5] },
    ]);
    expect(count(svg, 'aria-roledescription="point"')).toBe(6);
    expect(count(svg, 'aria-roledescription="rule mark"')).toBe(0);
    expect(count(svg, '(selected)')).toBe(0);
    expect(texts(svg, 'role-axis-label').filter((t) => !/^\d/.test(t))).toEqual(layers);
    expect(texts(svg, 'role-legend-label')).toEqual(['S', 'T "big"']);
    expect(svg).toContain('a&lt;b');
    expect(svg).not.toContain('a<b');
  });

  it('curvesPlotSvg: one panel per metric (its y axis titled by it), one line and a dot per value per run', async () => {
    const points = curvePoints();
    const svg = await report.curvesPlotSvg(points);
    expect(count(svg, 'aria-roledescription="point"')).toBe(points.length);
    expect(points.length).toBe(3 * (21 + 11));
    const paths = lines(svg);
    expect(paths.map((p) => p.length).sort((a, b) => a - b)).toEqual([11, 11, 11, 21, 21, 21]);
    expect(texts(svg, 'role-axis-title')).toEqual(['step', 'train loss', 'step', 'valid accuracy']);
    expect(texts(svg, 'role-legend-label').sort()).toEqual([...RUNS].sort());
    // The loss decreases along each run: the line's y (screen, downwards) grows with the step.
    for (const p of paths.filter((q) => q.length === 21)) {
      for (let i = 1; i < p.length; i++) {
        expect(p[i][0]).toBeGreaterThan(p[i - 1][0]);
        expect(p[i][1]).toBeGreaterThan(p[i - 1][1]);
      }
    }
  });

  it('curvesPlotSvg: long curves are lines without dots, one vertex per value', async () => {
    const points = curvePoints(10);
    const svg = await report.curvesPlotSvg(points);
    expect(count(svg, 'aria-roledescription="point"')).toBe(0);
    expect(lines(svg).map((p) => p.length).sort((a, b) => a - b)).toEqual([11, 11, 11, 201, 201, 201]);
  });

  it('resultsPlotSvg: a bar per row, in table order, as long as its value, labelled with it', async () => {
    const svg = await report.resultsPlotSvg(TABLE, 'accuracy (%)');
    const bars = [...svg.matchAll(/aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="bar" d="M0,[^h]*h([^v]*)v/g)];
    expect(bars).toHaveLength(3);
    const widths = bars.map((b) => Number(b[2]));
    TABLE.rows.forEach((row, i) => {
      expect(decode(bars[i][1])).toBe(`${row[0]}, accuracy (%): ${row[1]}`);
      expect(widths[i] / widths[0]).toBeCloseTo((row[1] as number) / (TABLE.rows[0][1] as number), 9);
    });
    expect(texts(svg, 'role-axis-label').filter((t) => !/^\d/.test(t))).toEqual(TABLE.rows.map((r) => r[0]));
    expect(texts(svg, 'role-mark')).toEqual(['91.23', '88.71', '86.9']);
    expect(texts(svg, 'role-title-text')).toEqual(['accuracy (%)']);
    const latency = await report.resultsPlotSvg(TABLE, 'latency (ms)');
    expect(texts(latency, 'role-mark')).toEqual(['4.213', '0.312346', '0.31']);
  });

  it('draws any names (quotes, backslashes, markup) as text, escaped', async () => {
    const nasty = ['a\\" + f("x")', 'b\\', "<i>c</i> & 'd'", '${e}'];
    const spectral = await report.spectralPlotSvg([{ model: nasty[0], layers: nasty, intensity: [1, 2, 3, 4], selected: [1] }]);
    expect(texts(spectral, 'role-axis-label').filter((t) => !/^\d/.test(t))).toEqual(nasty);
    expect(texts(spectral, 'role-legend-label')).toEqual([nasty[0], 'selected', 'other']);
    const curves = await report.curvesPlotSvg(nasty.map((n, i) => ({ run: n, metric: nasty[3 - i], step: 0, value: i })));
    expect(texts(curves, 'role-axis-title').filter((t) => t !== 'step')).toEqual([...nasty].reverse());
    expect(texts(curves, 'role-legend-label').sort()).toEqual([...nasty].sort());
    const results = await report.resultsPlotSvg({ columns: [nasty[1], nasty[0]], rows: nasty.map((n, i) => [n, i + 1]) }, nasty[0]);
    expect(texts(results, 'role-title-text')).toEqual([nasty[0]]);
    expect(texts(results, 'role-axis-title')).toEqual([nasty[0], nasty[1]]);
    expect(results).not.toContain('<i>');
  });
});

describe('input checks', () => {
  const bad = async (p: Promise<unknown>, message: RegExp) => {
    const e = await p.then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(TorchError);
    expect((e as Error).message).toMatch(message);
  };

  it('spectral series', async () => {
    const s = (over: Partial<Record<keyof report.SpectralSeries, unknown>>) => [{ ...student, ...over }] as report.SpectralSeries[];
    await bad(report.spectralPlotSvg([]), /^spectralPlotSvg\(\): the spectral series is empty/);
    await bad(report.spectralPlotSvg(s({ intensity: [1, 2, 3] })), /^spectralPlotSvg\(\): series\[0\] \("student"\) has 4 layers but 3 intensity values$/);
    await bad(report.spectralPlotSvg(s({ intensity: [1, NaN, 3, 4] })), /series\[0\] \("student"\)\.intensity\[1\] \(layer "block2"\) must be a finite number, got NaN/);
    await bad(report.spectralPlotSvg(s({ intensity: [1, 2, Infinity, 4] })), /intensity\[2\] .* got Infinity/);
    await bad(report.spectralPlotSvg(s({ intensity: [1, 2, '3', 4] })), /intensity\[2\] .* got "3"/);
    await bad(report.spectralPlotSvg(s({ layers: ['a', 'b', 'a', 'c'] })), /layer "a" appears twice/);
    await bad(report.spectralPlotSvg(s({ layers: [] })), /layers is empty/);
    await bad(report.spectralPlotSvg(s({ selected: [4] })), /selected\[0\] must be a layer index in \[0, 3\], got 4/);
    await bad(report.spectralPlotSvg(s({ selected: [1.5] })), /selected\[0\] must be a layer index/);
    await bad(report.spectralPlotSvg(s({ model: '' })), /series\[0\]\.model must be a non-empty string, got ""/);
    await bad(report.spectralPlotSvg([student, student]), /series\[1\] \("student"\): the model name appears twice/);
    await bad(report.spectralPlotSvg(null as unknown as report.SpectralSeries[]), /the spectral series must be an array .* got null/);
  });

  it('curve points', async () => {
    const p = { run: 'a', step: 0, metric: 'loss', value: 1 };
    await bad(report.curvesPlotSvg([]), /^curvesPlotSvg\(\): the curve points is empty/);
    await bad(report.curvesPlotSvg([{ ...p, value: NaN }]), /points\[0\]\.value \(run "a", loss at step 0\) must be a finite number, got NaN/);
    await bad(report.curvesPlotSvg([{ ...p, step: undefined as unknown as number }]), /points\[0\]\.step must be a finite number, got undefined/);
    await bad(report.curvesPlotSvg([p, { ...p }]), /points\[1\]: run "a" already has a loss value at step 0/);
    await bad(report.curvesPlotSvg([{ ...p, run: 3 as unknown as string }]), /points\[0\]\.run must be a non-empty string, got 3/);
  });

  it('results table and metric', async () => {
    await bad(report.resultsPlotSvg({ columns: ['run', 'acc'], rows: [] }, 'acc'), /^resultsPlotSvg\(\): table\.rows is empty/);
    await bad(report.resultsPlotSvg({ columns: [], rows: [['a']] }, 'acc'), /table\.columns is empty/);
    await bad(report.resultsPlotSvg({ columns: ['run', 'acc'], rows: [['a']] }, 'acc'), /table\.rows\[0\] has 1 cells but there are 2 columns/);
    await bad(report.resultsPlotSvg({ columns: ['run', 'acc'], rows: [['a', NaN]] }, 'acc'), /table\.rows\[0\]\[1\] \(column "acc"\) must be a string or a finite number, got NaN/);
    await bad(report.resultsPlotSvg({ columns: ['run', 'run'], rows: [['a', 'b']] }, 'run'), /table\.columns: "run" appears twice/);
    await bad(report.resultsPlotSvg(TABLE, 'speed'), /no column "speed" \(columns: "run", "accuracy \(%\)", "parameters", "latency \(ms\)", "notes"\)/);
    await bad(report.resultsPlotSvg(TABLE, 'notes'), /column "notes" is not numeric: table\.rows\[0\] has "reference"/);
    await bad(report.resultsPlotSvg(TABLE, 'run'), /column "run" is the first column/);
    await bad(report.resultsPlotSvg({ columns: ['run', 'acc'], rows: [['a', 1], ['a', 2]] }, 'acc'), /the first column \("run"\) names two rows "a"/);
  });

  it('report data and the output folder', async () => {
    await bad(report.renderReport({ title: '' }), /^renderReport\(\): title must be a non-empty string/);
    await bad(report.renderReport(undefined as unknown as report.ReportData), /^renderReport\(\): expects \{ title/);
    await bad(report.renderReport({ title: 'x', notes: ['ok', 3 as unknown as string] }), /notes\[1\] must be a string, got number/);
    await bad(report.renderReport({ title: 'x', spectral: [{ ...student, intensity: [1] }] }), /^renderReport\(\): series\[0\] \("student"\) has 4 layers but 1 intensity values/);
    await bad(report.renderReport({ title: 'x', table: { columns: ['run'], rows: [] } }), /^renderReport\(\): table\.rows is empty/);
    await bad(report.renderReport({ title: 'x', table: { columns: ['run', 'acc'], rows: [['a', 1], ['a', 2]] } }), /^renderReport\(\): the first column/);
    const dir = mkdtempSync(join(tmpdir(), 'torchkd-report-'));
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    await bad(report.writeReport(file, { title: 'x' }), /^writeReport\(\): .*(EEXIST|ENOTDIR)/);
    await bad(report.writeReport('', { title: 'x' }), /^writeReport\(\): dir must be a non-empty string/);
    rmSync(dir, { recursive: true });
  });
});

describe('renderReport / writeReport', () => {
  it('writes a standalone page atomically: escaped text, inline SVG figures, the table, nothing external', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'torchkd-report-'));
    const out = join(dir, 'nested', 'run1');
    const path = await report.writeReport(out, { title: 'KD <script>alert(1)</script>', subtitle: 'a & b', table: TABLE, notes: ["it's <b>"] });
    expect(path).toBe(join(out, 'report.html'));
    expect(readdirSync(out)).toEqual(['report.html']);
    const html = readFileSync(path, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|@import|url\(|src=|href=/i);
    expect(html).toContain('<title>KD &lt;script&gt;alert(1)&lt;/script&gt;</title>');
    expect(html).toContain('<p class="subtitle">a &amp; b</p>');
    expect(html).toContain('<p>it&#39;s &lt;b&gt;</p>');
    expect(html).toContain('<td>T=4 &amp; α=0.9</td>');
    expect(html).toContain('<td class="num">0.312346</td>');
    // No spectral or curves data: no such sections; one bar chart per numeric column.
    expect(count(html, '<figure data-plot="spectral"')).toBe(0);
    expect(count(html, '<figure data-plot="curves"')).toBe(0);
    expect([...html.matchAll(/<figure data-plot="results" data-metric="([^"]*)">/g)].map((m) => m[1]))
      .toEqual(['accuracy (%)', 'parameters', 'latency (ms)']);
    rmSync(dir, { recursive: true });
  });
});

describe('the report in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const requests: string[] = [];
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'torchkd-report-'));
    const warn = vi.spyOn(console, 'warn');
    const path = await report.writeReport(dir, {
      title: 'Distillation report', subtitle: 'Teacher → student', spectral: [teacher, student], curves: curvePoints(), table: TABLE,
      notes: ['First note.', 'Second note.'],
    });
    // vega and vega-lite warn on the console about specs they have to fix up.
    problems.push(...warn.mock.calls.map((args) => `vega warning: ${args.join(' ')}`));
    warn.mockRestore();
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows every figure as a laid-out SVG with its caption, and the document is self-contained', async () => {
    const figures = await page.$$eval('figure', (fs) => fs.map((f) => {
      const svg = f.querySelector(':scope > svg');
      const box = svg?.getBoundingClientRect();
      return { plot: f.dataset.plot, width: box?.width ?? 0, height: box?.height ?? 0, caption: f.querySelector('figcaption')?.textContent ?? '' };
    }));
    expect(figures.map((f) => f.plot)).toEqual(['spectral', 'curves', 'results', 'results', 'results']);
    for (const f of figures) {
      expect(f.width).toBeGreaterThan(200);
      expect(f.height).toBeGreaterThan(100);
      expect(f.caption.length).toBeGreaterThan(10);
    }
    expect(figures[0].caption).toContain('Selected layers: teacher: encoder.layer.0, encoder.layer.1, encoder.layer.11; student: block4.');
    expect(figures[1].caption).toContain('3 runs: teacher, student-kd, student "scratch"');
    expect(await page.title()).toBe('Distillation report');
    const ids = await page.$$eval('[id]', (els) => els.map((e) => e.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(await page.$$eval('script, link, img, iframe', (els) => els.length)).toBe(0);
    expect(requests).toEqual([page.url()]);
    expect(problems).toEqual([]);
  });

  it('draws one mark per data point, inside its plot, with the layer and run names on axes and legends', async () => {
    const marks = (plot: string, role: string) => page.$$eval(`figure[data-plot="${plot}"] [aria-roledescription="${role}"]`, (els) => {
      return els.map((e) => {
        const svg = e.closest('svg')?.getBoundingClientRect();
        const b = e.getBoundingClientRect();
        return { label: e.getAttribute('aria-label') ?? '', inside: !!svg && b.left >= svg.left && b.right <= svg.right && b.top >= svg.top && b.bottom <= svg.bottom, w: b.width, h: b.height };
      });
    });
    const labels = (plot: string, role: string) => page.$$eval(`figure[data-plot="${plot}"] g.${role} text`, (els) => els.map((e) => e.textContent ?? ''));

    const spectralPoints = await marks('spectral', 'point');
    expect(spectralPoints).toHaveLength(teacher.layers.length + student.layers.length);
    expect(spectralPoints.every((p) => p.inside && p.w > 0 && p.h > 0)).toBe(true);
    expect(spectralPoints.filter((p) => p.label.endsWith(' (selected)'))).toHaveLength(4);
    const axis = await labels('spectral', 'role-axis-label');
    for (const layer of [...TEACHER_LAYERS, ...student.layers]) expect(axis).toContain(layer);
    expect(await labels('spectral', 'role-legend-label')).toEqual(['student', 'teacher', 'selected', 'other']);

    const points = curvePoints();
    const curvePointsDrawn = await marks('curves', 'point');
    expect(curvePointsDrawn).toHaveLength(points.length);
    expect(curvePointsDrawn.every((p) => p.inside)).toBe(true);
    const segments = await page.$$eval('figure[data-plot="curves"] [aria-roledescription="line mark"]', (els) =>
      els.map((e) => (e.getAttribute('d') ?? '').split('L').length - 1));
    expect(segments.reduce((a, b) => a + b, 0)).toBe(points.length - 6);
    expect((await labels('curves', 'role-legend-label')).sort()).toEqual([...RUNS].sort());
    expect(await labels('curves', 'role-axis-title')).toEqual(['step', 'train loss', 'step', 'valid accuracy']);

    const bars = await marks('results', 'bar');
    expect(bars).toHaveLength(3 * TABLE.rows.length);
    expect(bars.every((b) => b.inside && b.w > 0)).toBe(true);
    const barAxis = await labels('results', 'role-axis-label');
    for (const row of TABLE.rows) expect(barAxis.filter((t) => t === row[0])).toHaveLength(3);
  });

  it('lays out the results table with every value', async () => {
    const head = await page.$$eval('table thead th', (els) => els.map((e) => e.textContent));
    const body = await page.$$eval('table tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    expect(head).toEqual(TABLE.columns);
    expect(body).toEqual([
      ['teacher', '91.23', '11173962', '4.213', 'reference'],
      ['student-kd', '88.71', '101770', '0.312346', 'T=4 & α=0.9'],
      ['student "scratch"', '86.9', '101770', '0.31', '<none>'],
    ]);
    expect(await page.$$eval('section#notes p', (ps) => ps.map((p) => p.textContent))).toEqual(['First note.', 'Second note.']);
  });
});

describe('loading vega (ESM-only) from the CommonJS build', () => {
  const SCRIPT = `(async () => { const svg = await report.resultsPlotSvg({ columns: ['run', 'acc'], rows: [['a', 1], ['b', 2]] }, 'acc');
    console.log(svg.split('aria-roledescription="bar"').length - 1); })()`;
  const node = (args: string[], bin = process.execPath) => execFileSync(bin, args, { cwd: root, encoding: 'utf8' }).trim();

  it("works through require('torchkd') and import { report } from 'torchkd'", () => {
    expect(node(['-e', `const { report } = require('torchkd'); ${SCRIPT}`])).toBe('2');
    expect(node(['--input-type=module', '-e', `import { report } from 'torchkd'; ${SCRIPT}`])).toBe('2');
  });

  it('works under Node 22 too', () => {
    const bin = node22Binary();
    expect(node(['--version'], bin)).toMatch(/^v22\./);
    expect(node(['-e', `const { report } = require('./dist/index.js'); ${SCRIPT}`], bin)).toBe('2');
  });
});

describe('error bars, further tables and confusion matrices', () => {
  const SEEDS: report.ResultsTable = {
    columns: ['run', 'accuracy (%)', '± std', 'parameters'],
    rows: [['teacher', 91.2, 0, 72666], ['kd', 84.1, 0.35, 6274], ['labels', 80.4, 0.6, 6274]],
    errors: { 'accuracy (%)': '± std' },
  };
  const CONFUSION: report.ConfusionMatrix = { model: 'student', classes: ['cat', 'dog', 'bird'], counts: [[8, 2, 0], [1, 9, 0], [0, 5, 5]] };

  it('resultsPlotSvg draws ± error bars from the error column, which gets no chart of its own', async () => {
    const svg = await report.resultsPlotSvg(SEEDS, 'accuracy (%)');
    expect(count(svg, 'aria-roledescription="bar"')).toBe(3);
    expect(count(svg, 'aria-roledescription="rule mark"')).toBe(3);
    expect(texts(svg, 'role-mark')).toEqual(['91.2 ± 0', '84.1 ± 0.35', '80.4 ± 0.6']);
    // Each rule spans value ± error on the bars' x scale: its length is proportional to 2·error.
    const rules = [...svg.matchAll(/aria-roledescription="rule mark" transform="translate\(([\d.]+),[\d.]+\)" x2="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(rules).toHaveLength(3);
    expect(rules[0][1]).toBeCloseTo(0, 6);
    expect(rules[2][1] / rules[1][1]).toBeCloseTo(0.6 / 0.35, 2);
    // From value − error to value + error: the left ends on the same scale as the lengths (x = 0 at 0).
    const perUnit = rules[1][1] / 0.7;
    expect(rules[1][0] / perUnit).toBeCloseTo(84.1 - 0.35, 1);
    const html = await report.renderReport({ title: 't', table: SEEDS });
    expect([...html.matchAll(/<figure data-plot="results" data-metric="([^"]*)">/g)].map((m) => m[1])).toEqual(['accuracy (%)', 'parameters']);
    expect(html).toContain('the error bars are ± ± std');
  });

  it('confusionPlotSvg: one cell per (true, predicted) pair with its count, coloured by its share of the row', async () => {
    const svg = await report.confusionPlotSvg([{ ...CONFUSION, model: 'teacher', counts: [[10, 0, 0], [0, 10, 0], [0, 0, 10]] }, CONFUSION]);
    expect(count(svg, 'aria-roledescription="rect mark"')).toBe(18);
    expect(texts(svg, 'role-mark')).toEqual(['10', '0', '0', '0', '10', '0', '0', '0', '10', '8', '2', '0', '1', '9', '0', '0', '5', '5']);
    expect(svg).toContain('aria-label="student: true bird, predicted dog: 5"');
    const fills = [...svg.matchAll(/aria-label="student: true (\w+), predicted (\w+): \d+"[^>]*fill="([^"]+)"/g)].map((m) => [`${m[1]}/${m[2]}`, m[3]]);
    const fill = Object.fromEntries(fills);
    expect(fill['bird/dog']).toBe(fill['bird/bird']); // 5 of 10 both
    expect(fill['cat/cat']).not.toBe(fill['cat/dog']);
  });

  it('renderReport shows further tables and the confusion section; bad input is a TorchError naming it', async () => {
    const html = await report.renderReport({
      title: 't', confusion: [CONFUSION],
      tables: [{ title: 'Comparisons & noise', caption: 'p < 0.05', table: { columns: ['comparison', 'p'], rows: [['kd − labels', 0.012]] } }],
    });
    expect(html).toContain('<h2>Comparisons &amp; noise</h2>');
    expect(html).toContain('<p class="caption">p &lt; 0.05</p>');
    expect(html).toContain('<td class="num">0.012</td>');
    expect(count(html, '<figure data-plot="confusion"')).toBe(1);
    const bad = async (data: Partial<report.ReportData>, message: RegExp) => {
      const e = await report.renderReport({ title: 't', ...data }).then(() => null, (err: unknown) => err);
      expect(e).toBeInstanceOf(TorchError);
      expect((e as Error).message).toMatch(message);
    };
    await bad({ confusion: [{ ...CONFUSION, counts: [[1, 2, 3], [1, 2], [0, 0, 0]] }] }, /matrices\[0\] \("student"\)\.counts\[1\] must be 3 counts, got 2/);
    await bad({ confusion: [{ ...CONFUSION, counts: [[1, 2, 3]] }] }, /\.counts must be 3 rows \(one per class\), got 1/);
    await bad({ confusion: [{ ...CONFUSION, counts: [[1, 2, 3], [1, 2, -1], [0, 0, 0]] }] }, /counts\[1\]\[2\] must be a non-negative integer, got -1/);
    await bad({ confusion: [{ ...CONFUSION, classes: ['a', 'a', 'b'] }] }, /a class name appears twice/);
    await bad({ table: { ...SEEDS, errors: { 'accuracy (%)': 'nope' } } }, /table\.errors\["accuracy \(%\)"\] must name a numeric column, got "nope"/);
    await bad({ table: { ...SEEDS, errors: { run: '± std' } } }, /table\.errors: "run" is not a numeric column after the first/);
    await bad({ tables: [{ title: '', table: SEEDS }] }, /tables\[0\]\.title must be a non-empty string/);
    await bad({ tables: [{ title: 'x', table: { columns: ['a'], rows: [] } }] }, /^renderReport\(\): tables\[0\]\.table\.rows is empty/);
  });
});

describe('statistics over seeds', () => {
  it('summarize: mean and sample standard deviation (numpy ddof=1)', () => {
    const values = [0.8123, 0.8047, 0.8191, 0.8011];
    const s = report.summarize(values);
    const ref = py<{ mean: number; std: number }>('import numpy as np\nv = np.array(inputs)\nout = {"mean": float(v.mean()), "std": float(v.std(ddof=1))}', values);
    expect(s.mean).toBeCloseTo(ref.mean, 14);
    expect(s.std).toBeCloseTo(ref.std, 14);
    expect(s).toMatchObject({ n: 4, min: 0.8011, max: 0.8191 });
    expect(report.summarize([0.5])).toEqual({ n: 1, mean: 0.5, std: 0, min: 0.5, max: 0.5 });
    expect(() => report.summarize([])).toThrow(TorchError);
    expect(() => report.summarize([1, NaN])).toThrow(/values\[1\] must be a finite number, got NaN/);
  });

  it("pairedTTest: t, p and the interval against Student's t in closed form (1 and 2 degrees of freedom)", () => {
    // df = 1: F(t) = 1/2 + atan(t)/π; df = 2: F(t) = 1/2 + t / (2·√(2 + t²)).
    const cases = [
      { a: [0.84, 0.83], b: [0.80, 0.81], p: (t: number) => 1 - (2 / Math.PI) * Math.atan(Math.abs(t)), q: Math.tan(Math.PI * 0.475) },
      { a: [0.84, 0.83, 0.845], b: [0.80, 0.81, 0.79], p: (t: number) => 1 - Math.abs(t) / Math.sqrt(2 + t * t), q: 0.95 * Math.sqrt(2 / (1 - 0.95 ** 2)) },
    ];
    for (const { a, b, p, q } of cases) {
      const d = a.map((v, i) => v - b[i]);
      const n = d.length;
      const mean = d.reduce((x, y) => x + y, 0) / n;
      const sd = Math.sqrt(d.reduce((x, y) => x + (y - mean) ** 2, 0) / (n - 1));
      const t = mean / (sd / Math.sqrt(n));
      const r = report.pairedTTest(a, b);
      expect(r.n).toBe(n);
      expect(r.df).toBe(n - 1);
      expect(r.meanDiff).toBeCloseTo(mean, 14);
      expect(r.stdDiff).toBeCloseTo(sd, 14);
      expect(r.t!).toBeCloseTo(t, 10);
      expect(r.p!).toBeCloseTo(p(t), 8);
      expect(r.ci![0]).toBeCloseTo(mean - q * sd / Math.sqrt(n), 8);
      expect(r.ci![1]).toBeCloseTo(mean + q * sd / Math.sqrt(n), 8);
      expect(r.significant).toBe(r.p! < 0.05);
    }
    // A consistent 4-point gain over three seeds is beyond the noise; one that changes sign is not.
    expect(report.pairedTTest([0.84, 0.83, 0.845], [0.80, 0.79, 0.805]).significant).toBe(true);
    expect(report.pairedTTest([0.84, 0.79, 0.82], [0.80, 0.81, 0.82]).significant).toBe(false);
    expect(report.pairedTTest([0.8], [0.7])).toMatchObject({ n: 1, t: null, p: null, ci: null, significant: false });
    expect(() => report.pairedTTest([1, 2], [1])).toThrow(/a and b must pair up: 2 vs 1 values/);
    expect(() => report.pairedTTest([1, 2], [1, 2], { level: 1 })).toThrow(/level must be in \(0, 1\)/);
  });
});
