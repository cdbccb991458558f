/**
 * report: a standalone HTML report of a distillation experiment, with plots rendered by vega-lite
 * (compiled to vega and rendered headless in Node to SVG, inlined in the page: it opens offline).
 *
 *   import { report } from 'torchkd';
 *   await report.writeReport('runs/exp1', { title: 'KD on Fashion-MNIST', spectral, curves, table });
 *
 * - `spectralPlotSvg(series)`: intensity per layer in depth order, one colour per model, selected layers marked;
 * - `curvesPlotSvg(points)`: one panel per metric, one line per run;
 * - `resultsPlotSvg(table, metric)`: bars of one numeric column by the first column;
 * - `renderReport(data)` / `writeReport(dir, data)`: the page (DIR/report.html, written atomically).
 */
export { curvesPlotSvg, resultsPlotSvg, spectralPlotSvg } from './plots';
export type { CurvePoint, ResultsTable, SpectralSeries } from './plots';
export { renderReport, writeReport } from './html';
export type { ReportData } from './html';
