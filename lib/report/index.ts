/**
 * report: a standalone HTML report of a distillation experiment, with plots rendered by vega-lite
 * (compiled to vega and rendered headless in Node to SVG, inlined in the page: it opens offline).
 *
 *   import { report } from 'torchkd';
 *   await report.writeReport('runs/exp1', { title: 'KD on Fashion-MNIST', spectral, curves, table });
 *
 * - `spectralPlotSvg(series)`: intensity per layer in depth order, one colour per model, selected layers marked;
 * - `curvesPlotSvg(points)`: one panel per metric, one line per run;
 * - `resultsPlotSvg(table, metric)`: bars of one numeric column by the first column (± its error column);
 * - `confusionPlotSvg(matrices)`: one confusion-matrix heatmap per model;
 * - `summarize(values)`, `pairedTTest(a, b)`: mean ± std over seeds, and whether two runs' per-seed differences exceed the noise;
 * - `renderReport(data)` / `writeReport(dir, data)`: the page (DIR/report.html, written atomically).
 */
export { confusionPlotSvg, curvesPlotSvg, resultsPlotSvg, spectralPlotSvg } from './plots';
export type { ConfusionMatrix, CurvePoint, ResultsTable, SpectralSeries } from './plots';
export { renderReport, writeReport } from './html';
export { pairedTTest, summarize } from './stats';
export type { PairedComparison, Summary } from './stats';
export type { ReportData } from './html';
