// The standalone HTML report: inline CSS and SVG plots, no script, nothing fetched, so it opens offline.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { atomicWrite } from '../data/idx';
import { argError, kindOf, TorchError } from '../torch/errors';
import {
  checkConfusion, checkCurves, checkResultsMetric, checkSpectral, checkTable, confusionPlotSvg, curvesPlotSvg, formatNumber,
  numericColumns, plottedColumns, resultsPlotSvg, spectralPlotSvg, type ConfusionMatrix, type CurvePoint, type ResultsTable,
  type SpectralSeries,
} from './plots';

export interface ReportData {
  title: string;
  subtitle?: string;
  /** Teacher and student spectral profiles per layer. */
  spectral?: SpectralSeries[];
  /** Learning curves (train loss, valid accuracy... per run). */
  curves?: CurvePoint[];
  /** Results (accuracy, parameters, latency, training time per run); each numeric column is also plotted (with error bars per `table.errors`). */
  table?: ResultsTable;
  /** Further tables shown after the results (e.g. comparisons between runs), without plots. */
  tables?: { title: string; caption?: string; table: ResultsTable }[];
  /** Confusion matrices on the test set, one per model. */
  confusion?: ConfusionMatrix[];
  /** Free text paragraphs. */
  notes?: string[];
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const names = (xs: string[]) => xs.map(escapeHtml).join(', ');

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f6f8; color: #1d232b;
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 32px 24px 56px; }
h1 { font-size: 28px; line-height: 1.2; margin: 0 0 6px; }
.subtitle { color: #4a5460; font-size: 17px; margin: 0; }
section { margin-top: 36px; }
h2 { font-size: 20px; margin: 0 0 12px; padding-bottom: 6px; border-bottom: 1px solid #dde1e6; }
figure { margin: 16px 0; padding: 14px; background: #fff; border: 1px solid #e1e4e8; border-radius: 8px; overflow-x: auto; }
figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption, .caption { color: #4a5460; font-size: 14px; margin-top: 10px; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 0 16px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; border: 1px solid #e1e4e8; font-size: 14px; min-width: 50%; }
th, td { padding: 7px 14px; text-align: left; border-bottom: 1px solid #e8eaed; white-space: nowrap; }
thead th { background: #f0f2f5; font-weight: 600; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:last-child td { border-bottom: none; }
.notes p { max-width: 72ch; }
footer { margin-top: 48px; color: #7a838d; font-size: 13px; }
@media print { body { background: #fff; } figure { break-inside: avoid; border: none; } }
`;

function figure(kind: string, svg: string, caption: string, attrs = ''): string {
  return `<figure data-plot="${kind}"${attrs}>\n${svg}\n<figcaption>${caption}</figcaption>\n</figure>`;
}

function tableHtml(table: ResultsTable): string {
  const numeric = new Set(numericColumns(table));
  const head = table.columns.map((c) => `<th scope="col"${numeric.has(c) ? ' class="num"' : ''}>${escapeHtml(c)}</th>`).join('');
  const body = table.rows.map((row) => `<tr>${row.map((cell) => (typeof cell === 'number'
    ? `<td class="num">${escapeHtml(formatNumber(cell))}</td>`
    : `<td>${escapeHtml(cell)}</td>`)).join('')}</tr>`).join('\n');
  return `<div class="table-wrap"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table></div>`;
}

/** Checks what renderReport needs beyond the plots' own checks: a title, a string subtitle, string notes. */
function checkReport(op: string, data: unknown): asserts data is ReportData {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    argError(op, `expects { title, subtitle?, spectral?, curves?, table?, tables?, confusion?, notes? }, got ${kindOf(data)}`);
  }
  const d = data as Record<string, unknown>;
  if (typeof d.title !== 'string' || d.title.trim() === '') argError(op, `title must be a non-empty string, got ${kindOf(d.title)}`);
  if (d.subtitle !== undefined && typeof d.subtitle !== 'string') argError(op, `subtitle must be a string, got ${kindOf(d.subtitle)}`);
  if (d.notes !== undefined) {
    if (!Array.isArray(d.notes)) argError(op, `notes must be an array of strings, got ${kindOf(d.notes)}`);
    d.notes.forEach((n, i) => {
      if (typeof n !== 'string') argError(op, `notes[${i}] must be a string, got ${kindOf(n)}`);
    });
  }
  if (d.spectral !== undefined) checkSpectral(op, d.spectral);
  if (d.curves !== undefined) checkCurves(op, d.curves);
  if (d.table !== undefined) {
    checkTable(op, d.table);
    for (const metric of plottedColumns(d.table as ResultsTable)) checkResultsMetric(op, d.table as ResultsTable, metric);
  }
  if (d.tables !== undefined) {
    if (!Array.isArray(d.tables)) argError(op, `tables must be an array of { title, caption?, table }, got ${kindOf(d.tables)}`);
    d.tables.forEach((t, i) => {
      if (t === null || typeof t !== 'object') argError(op, `tables[${i}] must be { title, caption?, table }, got ${kindOf(t)}`);
      const { title, caption, table } = t as Record<string, unknown>;
      if (typeof title !== 'string' || title.trim() === '') argError(op, `tables[${i}].title must be a non-empty string, got ${kindOf(title)}`);
      if (caption !== undefined && typeof caption !== 'string') argError(op, `tables[${i}].caption must be a string, got ${kindOf(caption)}`);
      try {
        checkTable(op, table);
      } catch (e) {
        throw new TorchError((e as Error).message.replace(`${op}(): `, `${op}(): tables[${i}].`));
      }
    });
  }
  if (d.confusion !== undefined) checkConfusion(op, d.confusion);
}

/**
 * The full standalone HTML page: title, subtitle, the spectral profile, the learning curves, the results
 * table with a bar chart per numeric column, further tables, the confusion matrices, and the notes (each
 * section only when given). Every plot is an inline SVG in a `<figure data-plot="spectral|curves|results|confusion">`
 * with a caption; all text is escaped.
 */
export async function renderReport(data: ReportData): Promise<string> {
  checkReport('renderReport', data);
  const sections: string[] = [];
  if (data.spectral) {
    const models = data.spectral.map((s) => s.model);
    const selected = data.spectral.filter((s) => s.selected?.length)
      .map((s) => `${escapeHtml(s.model)}: ${names(s.selected!.map((k) => s.layers[k]))}`);
    const caption = `Spectral intensity of each layer (mean FFT magnitude of its features along the channels), from input to output, for ${names(models)}.`
      + (selected.length ? ` Selected layers: ${selected.join('; ')}.` : '');
    sections.push(`<section id="spectral">\n<h2>Spectral profile</h2>\n${figure('spectral', await spectralPlotSvg(data.spectral), caption)}\n</section>`);
  }
  if (data.curves) {
    const runs = [...new Set(data.curves.map((p) => p.run))];
    const metrics = [...new Set(data.curves.map((p) => p.metric))];
    const caption = `${names(metrics)} against the training step for ${runs.length === 1 ? 'run' : `${runs.length} runs:`} ${names(runs)}; one panel per metric.`;
    sections.push(`<section id="curves">\n<h2>Learning curves</h2>\n${figure('curves', await curvesPlotSvg(data.curves), caption)}\n</section>`);
  }
  if (data.table) {
    const table = data.table;
    const plots: string[] = [];
    for (const metric of plottedColumns(table)) {
      const error = table.errors?.[metric];
      const caption = `${escapeHtml(metric)} by ${escapeHtml(table.columns[0])}${error ? `; the error bars are ± ${escapeHtml(error)}` : ''}.`;
      plots.push(figure('results', await resultsPlotSvg(table, metric), caption, ` data-metric="${escapeHtml(metric)}"`));
    }
    sections.push(`<section id="results">\n<h2>Results</h2>\n${tableHtml(table)}\n`
      + (plots.length ? `<div class="plots">\n${plots.join('\n')}\n</div>\n` : '') + '</section>');
  }
  for (const t of data.tables ?? []) {
    sections.push(`<section class="table">\n<h2>${escapeHtml(t.title)}</h2>\n${tableHtml(t.table)}\n`
      + (t.caption ? `<p class="caption">${escapeHtml(t.caption)}</p>\n` : '') + '</section>');
  }
  if (data.confusion) {
    const caption = `Test-set confusion matrices of ${names(data.confusion.map((m) => m.model))}: rows are the true classes, columns the predicted ones; each cell shows its count, coloured by its share of the row.`;
    sections.push(`<section id="confusion">\n<h2>Confusion matrices</h2>\n${figure('confusion', await confusionPlotSvg(data.confusion), caption)}\n</section>`);
  }
  if (data.notes?.length) {
    sections.push(`<section id="notes" class="notes">\n<h2>Notes</h2>\n${data.notes.map((n) => `<p>${escapeHtml(n)}</p>`).join('\n')}\n</section>`);
  }
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(data.title)}</h1>
${data.subtitle ? `<p class="subtitle">${escapeHtml(data.subtitle)}</p>\n` : ''}</header>
${sections.join('\n')}
<footer>Generated by torchkd.</footer>
</main>
</body>
</html>
`;
}

/** Renders the report and writes it to DIR/report.html (creating DIR) atomically; returns the file's absolute path. */
export async function writeReport(dir: string, data: ReportData): Promise<string> {
  if (typeof dir !== 'string' || dir === '') argError('writeReport', `dir must be a non-empty string, got ${kindOf(dir)}`);
  const html = await renderReport(data);
  const path = resolve(dir, 'report.html');
  try {
    mkdirSync(dir, { recursive: true });
    atomicWrite(path, html);
  } catch (e) {
    throw new TorchError(`writeReport(): ${(e as Error).message}`);
  }
  return path;
}
