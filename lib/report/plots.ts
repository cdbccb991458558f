// The report's plots as vega-lite specs, rendered to SVG strings; every input is checked first.
import { argError, kindOf } from '../torch/errors';
import { renderSvg, type Spec } from './vega';

/**
 * One model's spectral profile: the intensity of each layer (distill.spectralProfile), layers in depth
 * order (input → output), and optionally the indices of the layers selected for distillation
 * (distill.selectLayers).
 */
export interface SpectralSeries {
  model: string;
  layers: string[];
  intensity: number[];
  selected?: number[];
}

/** One logged value of a learning curve: `metric` (train loss, valid accuracy...) of `run` at `step`. */
export interface CurvePoint {
  run: string;
  step: number;
  metric: string;
  value: number;
}

/**
 * A results table: the first column names each row (the run); the other cells are strings or numbers.
 * `errors` maps a numeric column to the numeric column holding its ± (e.g. a standard deviation over seeds):
 * its bar chart gets error bars, and the error column gets no chart of its own.
 */
export interface ResultsTable {
  columns: string[];
  rows: (string | number)[][];
  errors?: Record<string, string>;
}

/** A confusion matrix: `counts[i][j]` test samples of true class `classes[i]` predicted as `classes[j]`. */
export interface ConfusionMatrix {
  model: string;
  classes: string[];
  counts: number[][];
}

/** Integers as they are; other numbers to 6 significant digits (0.912345678 → '0.912346'). */
export function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

/** Shared look: readable font sizes, light grid, left-aligned titles. */
const CONFIG = {
  font: FONT,
  background: 'white',
  padding: 8,
  title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: '#555', anchor: 'start', offset: 12 },
  axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 10, gridColor: '#e9e9e9', domainColor: '#888', tickColor: '#888' },
  legend: { labelFontSize: 12, titleFontSize: 13, labelLimit: 240, symbolSize: 120, symbolOpacity: 1 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  view: { stroke: '#d0d0d0' },
  range: { category: { scheme: 'tableau10' } },
};

const describe = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' ? String(v) : kindOf(v));
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function checkName(op: string, where: string, v: unknown): asserts v is string {
  if (typeof v !== 'string' || v.trim() === '') argError(op, `${where} must be a non-empty string, got ${describe(v)}`);
}

/** fn over v's items by index (forEach on a sparse array of 2^32 - 1 holes would walk them all; a hole fails its check at once). */
function each<T>(v: readonly T[], fn: (item: T, i: number) => void): void {
  for (let i = 0; i < v.length; i++) fn(v[i], i);
}

function checkArray(op: string, where: string, v: unknown, what: string): asserts v is unknown[] {
  if (!Array.isArray(v)) argError(op, `${where} must be an array of ${what}, got ${kindOf(v)}`);
  if (v.length === 0) argError(op, `${where} is empty (expected at least one of ${what})`);
}

function checkObject(op: string, where: string, v: unknown, shape: string): asserts v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) argError(op, `${where} must be an object ${shape}, got ${kindOf(v)}`);
}

/** Checks spectral series: unique model names, unique layer names, one finite intensity per layer, selected indices in range. */
export function checkSpectral(op: string, series: unknown): asserts series is SpectralSeries[] {
  checkArray(op, 'the spectral series', series, 'series { model, layers, intensity, selected? }');
  const models = new Set<string>();
  each(series, (s, i) => {
    checkObject(op, `series[${i}]`, s, '{ model, layers, intensity, selected? }');
    checkName(op, `series[${i}].model`, s.model);
    const name = `series[${i}] (${JSON.stringify(s.model)})`;
    if (models.has(s.model)) argError(op, `${name}: the model name appears twice`);
    models.add(s.model);
    const { layers, intensity, selected } = s;
    checkArray(op, `${name}.layers`, layers, 'layer names');
    each(layers, (l, j) => checkName(op, `${name}.layers[${j}]`, l));
    const seen = new Set(layers);
    if (seen.size !== layers.length) {
      const dup = layers.find((l, j) => layers.indexOf(l) !== j);
      argError(op, `${name}: layer ${JSON.stringify(dup)} appears twice`);
    }
    if (!Array.isArray(intensity)) argError(op, `${name}.intensity must be an array of numbers, got ${kindOf(intensity)}`);
    if (intensity.length !== layers.length) {
      argError(op, `${name} has ${layers.length} layers but ${intensity.length} intensity values`);
    }
    each(intensity, (v, j) => {
      if (!isFiniteNumber(v)) argError(op, `${name}.intensity[${j}] (layer ${JSON.stringify(layers[j])}) must be a finite number, got ${describe(v)}`);
    });
    if (selected === undefined) return;
    if (!Array.isArray(selected)) argError(op, `${name}.selected must be an array of layer indices, got ${kindOf(selected)}`);
    each(selected, (k, j) => {
      if (!Number.isInteger(k) || (k as number) < 0 || (k as number) >= layers.length) {
        argError(op, `${name}.selected[${j}] must be a layer index in [0, ${layers.length - 1}], got ${describe(k)}`);
      }
    });
    if (new Set(selected).size !== selected.length) argError(op, `${name}.selected lists a layer twice`);
  });
}

/** Checks curve points: non-empty run and metric names, finite steps and values, no two values for one (run, metric, step). */
export function checkCurves(op: string, points: unknown): asserts points is CurvePoint[] {
  checkArray(op, 'the curve points', points, 'points { run, step, metric, value }');
  const seen = new Set<string>();
  each(points, (p, i) => {
    checkObject(op, `points[${i}]`, p, '{ run, step, metric, value }');
    checkName(op, `points[${i}].run`, p.run);
    checkName(op, `points[${i}].metric`, p.metric);
    if (!isFiniteNumber(p.step)) argError(op, `points[${i}].step must be a finite number, got ${describe(p.step)}`);
    if (!isFiniteNumber(p.value)) {
      argError(op, `points[${i}].value (run ${JSON.stringify(p.run)}, ${p.metric} at step ${p.step}) must be a finite number, got ${describe(p.value)}`);
    }
    const key = JSON.stringify([p.run, p.metric, p.step]);
    if (seen.has(key)) argError(op, `points[${i}]: run ${JSON.stringify(p.run)} already has a ${p.metric} value at step ${p.step}`);
    seen.add(key);
  });
}

/** Checks a results table: unique column names, rows as long as the header, cells strings or finite numbers. */
export function checkTable(op: string, table: unknown): asserts table is ResultsTable {
  checkObject(op, 'the table', table, '{ columns, rows }');
  const { columns, rows } = table;
  checkArray(op, 'table.columns', columns, 'column names');
  each(columns, (c, j) => checkName(op, `table.columns[${j}]`, c));
  if (new Set(columns).size !== columns.length) argError(op, `table.columns: ${JSON.stringify(columns.find((c, j) => columns.indexOf(c) !== j))} appears twice`);
  checkArray(op, 'table.rows', rows, 'rows');
  each(rows, (row, i) => {
    if (!Array.isArray(row)) argError(op, `table.rows[${i}] must be an array of cells, got ${kindOf(row)}`);
    if (row.length !== columns.length) argError(op, `table.rows[${i}] has ${row.length} cells but there are ${columns.length} columns`);
    each(row, (cell, j) => {
      if (typeof cell === 'string') return;
      if (!isFiniteNumber(cell)) {
        argError(op, `table.rows[${i}][${j}] (column ${JSON.stringify(columns[j])}) must be a string or a finite number, got ${describe(cell)}`);
      }
    });
  });
  const { errors } = table;
  if (errors === undefined) return;
  checkObject(op, 'table.errors', errors, '{ column: errorColumn }');
  const numeric = new Set(numericColumns(table as unknown as ResultsTable));
  for (const [column, error] of Object.entries(errors)) {
    if (!numeric.has(column)) argError(op, `table.errors: ${JSON.stringify(column)} is not a numeric column after the first`);
    if (typeof error !== 'string' || !numeric.has(error)) argError(op, `table.errors[${JSON.stringify(column)}] must name a numeric column, got ${describe(error)}`);
  }
}

/** The numeric columns that get a bar chart: all but the first and the error columns of `table.errors`. */
export function plottedColumns(table: ResultsTable): string[] {
  const errorColumns = new Set(Object.values(table.errors ?? {}));
  return numericColumns(table).filter((c) => !errorColumns.has(c));
}

/** Checks confusion matrices: unique model names, unique class names, square non-negative integer counts. */
export function checkConfusion(op: string, matrices: unknown): asserts matrices is ConfusionMatrix[] {
  checkArray(op, 'the confusion matrices', matrices, 'matrices { model, classes, counts }');
  const models = new Set<string>();
  each(matrices, (m, i) => {
    checkObject(op, `matrices[${i}]`, m, '{ model, classes, counts }');
    checkName(op, `matrices[${i}].model`, m.model);
    const name = `matrices[${i}] (${JSON.stringify(m.model)})`;
    if (models.has(m.model)) argError(op, `${name}: the model name appears twice`);
    models.add(m.model);
    checkArray(op, `${name}.classes`, m.classes, 'class names');
    each(m.classes, (c, j) => checkName(op, `${name}.classes[${j}]`, c));
    if (new Set(m.classes).size !== m.classes.length) argError(op, `${name}: a class name appears twice`);
    const k = m.classes.length;
    if (!Array.isArray(m.counts) || m.counts.length !== k) argError(op, `${name}.counts must be ${k} rows (one per class), got ${Array.isArray(m.counts) ? m.counts.length : kindOf(m.counts)}`);
    each(m.counts, (row, r) => {
      if (!Array.isArray(row) || row.length !== k) argError(op, `${name}.counts[${r}] must be ${k} counts, got ${Array.isArray(row) ? row.length : kindOf(row)}`);
      each(row, (v, c) => {
        if (!Number.isInteger(v) || (v as number) < 0) argError(op, `${name}.counts[${r}][${c}] must be a non-negative integer, got ${describe(v)}`);
      });
    });
  });
}

/** The table's columns after the first whose cells are all numbers (the ones renderReport plots). */
export function numericColumns(table: ResultsTable): string[] {
  return table.columns.filter((_, j) => j > 0 && table.rows.every((row) => typeof row[j] === 'number'));
}

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];

// Each mark's accessible description (its SVG aria-label) comes from a `description` field computed here: the
// one vega-lite would build embeds the axis titles in a vega expression without escaping backslashes, so a
// column or metric name with a backslash would break it.
const DESCRIPTION = { field: 'description', type: 'nominal' };

/** Tilts x labels when they would not fit side by side (about 7 px per character at 12 px). */
const labelAngle = (labels: string[], width: number) =>
  labels.length * (Math.max(...labels.map((l) => l.length)) * 7 + 6) > width ? -40 : 0;

/**
 * Spectral profile: intensity per layer, layers in depth order on x, one colour per model; selected layers
 * drawn as large diamonds with a dashed rule. Models with the same layers share one panel; otherwise each
 * model gets its own panel (own x axis, shared intensity scale).
 */
function spectralSpec(series: SpectralSeries[]): Spec {
  const rows = series.map((s) => s.layers.map((layer, depth) => {
    const selected = s.selected?.includes(depth) ?? false;
    return {
      model: s.model, layer, depth, intensity: s.intensity[depth], role: selected ? 'selected' : 'other',
      description: `${s.model}, ${layer}: ${formatNumber(s.intensity[depth])}${selected ? ' (selected)' : ''}`,
    };
  }));
  const anySelected = series.some((s) => s.selected?.length);
  const shared = series.every((s) => s.layers.length === series[0].layers.length && s.layers.every((l, j) => l === series[0].layers[j]));
  const width = Math.min(880, Math.max(360, 40 * Math.max(...series.map((s) => s.layers.length))));
  const y = { field: 'intensity', type: 'quantitative', title: 'spectral intensity' };
  const color = { field: 'model', type: 'nominal', title: 'model' };
  const description = DESCRIPTION;
  // Each panel carries its own rows (`values`), so no user string ever reaches a vega expression.
  const panel = (values: object[], layers: string[]) => {
    const x = {
      field: 'layer', type: 'ordinal', sort: { field: 'depth', op: 'min' }, title: 'layer (input → output)',
      axis: { labelAngle: labelAngle(layers, width), labelLimit: 160 },
    };
    return {
      width,
      height: shared ? 300 : 200,
      data: { values },
      layer: [
        ...(anySelected ? [{
          transform: [{ filter: { field: 'role', equal: 'selected' } }],
          mark: { type: 'rule', strokeDash: [5, 4], strokeWidth: 1.5, opacity: 0.6 },
          encoding: { x, color, description },
        }] : []),
        { mark: { type: 'line', strokeWidth: 2.5 }, encoding: { x, y, color, description } },
        {
          mark: { type: 'point', filled: true, opacity: 1, stroke: 'white', strokeWidth: 1 },
          encoding: {
            x, y, color, description,
            ...(anySelected ? {
              shape: { field: 'role', type: 'nominal', title: 'layer', scale: { domain: ['selected', 'other'], range: ['diamond', 'circle'] } },
              size: { condition: { test: "datum.role === 'selected'", value: 220 }, value: 60 },
            } : { size: { value: 60 } }),
          },
        },
      ],
    };
  };
  const title = {
    text: 'Spectral intensity per layer',
    ...(anySelected ? { subtitle: 'Diamonds and dashed rules mark the layers selected for distillation.' } : {}),
  };
  if (shared) return { config: CONFIG, title, ...panel(rows.flat(), series[0].layers) };
  return {
    config: CONFIG,
    title,
    spacing: 28,
    vconcat: series.map((s, i) => ({ title: { text: s.model, fontSize: 14, anchor: 'start', frame: 'group' }, ...panel(rows[i], s.layers) })),
    resolve: { scale: { x: 'independent', y: 'shared', color: 'shared', shape: 'shared' } },
  };
}

/**
 * Learning curves: one panel per metric (each with its own y scale, titled by the metric), one coloured line
 * per run, with a dot per value when no line has more than 50 of them.
 */
function curvesSpec(points: CurvePoint[]): Spec {
  const metrics = unique(points.map((p) => p.metric));
  const counts = new Map<string, number>();
  for (const { run, metric } of points) {
    const key = JSON.stringify([run, metric]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const dots = Math.max(...counts.values()) <= 50;
  return {
    config: CONFIG,
    title: { text: 'Learning curves', subtitle: 'One panel per metric, one line per run.' },
    columns: Math.min(2, metrics.length),
    spacing: 24,
    resolve: { scale: { x: 'shared', y: 'independent', color: 'shared' } },
    concat: metrics.map((metric) => ({
      width: 340,
      height: 230,
      // Each panel carries its own rows, so no user string ever reaches a vega expression.
      data: {
        values: points.filter((p) => p.metric === metric)
          .map(({ run, step, value }) => ({ run, step, value, description: `${run}, ${metric} at step ${step}: ${formatNumber(value)}` })),
      },
      mark: { type: 'line', strokeWidth: 2, ...(dots ? { point: { filled: true, size: 36 } } : {}) },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: 'value', type: 'quantitative', title: metric, scale: { zero: false } },
        color: { field: 'run', type: 'nominal', title: 'run' },
        description: DESCRIPTION,
      },
    })),
  };
}

/**
 * Horizontal bars of one numeric column, one per row in table order, each labelled with its value (and
 * error bars of ± its error column when `table.errors` names one).
 */
function resultsSpec(table: ResultsTable, metric: string): Spec {
  const j = table.columns.indexOf(metric);
  const errorColumn = table.errors?.[metric];
  const e = errorColumn === undefined ? -1 : table.columns.indexOf(errorColumn);
  const values = table.rows.map((row) => {
    const value = row[j] as number;
    const err = e >= 0 ? (row[e] as number) : 0;
    const text = e >= 0 ? `${formatNumber(value)} ± ${formatNumber(err)}` : formatNumber(value);
    return { label: String(row[0]), value, low: value - err, high: value + err, text, description: `${row[0]}, ${metric}: ${text}` };
  });
  const y = { field: 'label', type: 'nominal', sort: null, title: table.columns[0], axis: { labelLimit: 200 } };
  const large = values.some((v) => Math.abs(v.value) >= 1e5);
  const x = { field: 'value', type: 'quantitative', title: metric, ...(large ? { axis: { format: '~s' } } : {}) };
  return {
    config: CONFIG,
    title: { text: metric, subtitle: `by ${table.columns[0]}` },
    width: 360,
    height: { step: 30 },
    data: { values },
    layer: [
      { mark: { type: 'bar', color: '#4e79a7' }, encoding: { x, y, description: DESCRIPTION } },
      ...(e >= 0 ? [{
        mark: { type: 'rule', color: '#222', strokeWidth: 1.5 },
        encoding: { x: { field: 'low', type: 'quantitative' }, x2: { field: 'high' }, y, description: DESCRIPTION },
      }] : []),
      {
        mark: { type: 'text', align: 'left', baseline: 'middle', dx: 5, fontSize: 12, color: '#333' },
        encoding: { x: e >= 0 ? { ...x, field: 'high' } : x, y, text: { field: 'text' }, description: DESCRIPTION },
      },
    ],
  };
}

/**
 * Confusion matrices side by side, one heatmap per model: true class on y, predicted class on x, each cell
 * coloured by the fraction of its true class (row-normalised) and labelled with its count.
 */
function confusionSpec(matrices: ConfusionMatrix[]): Spec {
  const panel = (m: ConfusionMatrix) => {
    const values = m.counts.flatMap((row, r) => {
      const total = row.reduce((a, b) => a + b, 0);
      return row.map((count, c) => ({
        truth: m.classes[r], predicted: m.classes[c], r, c, count, fraction: total ? count / total : 0,
        description: `${m.model}: true ${m.classes[r]}, predicted ${m.classes[c]}: ${count}`,
      }));
    });
    const axisLabels = { labelLimit: 120, labelAngle: labelAngle(m.classes, 34 * m.classes.length) };
    const x = { field: 'predicted', type: 'ordinal', sort: { field: 'c', op: 'min' }, title: 'predicted class', axis: axisLabels };
    const y = { field: 'truth', type: 'ordinal', sort: { field: 'r', op: 'min' }, title: 'true class', axis: { labelLimit: 120 } };
    return {
      title: { text: m.model, fontSize: 14, anchor: 'start', frame: 'group' },
      width: { step: 34 },
      height: { step: 26 },
      data: { values },
      layer: [
        {
          mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
          encoding: {
            x, y, description: DESCRIPTION,
            color: { field: 'fraction', type: 'quantitative', title: 'share of the true class', scale: { scheme: 'blues', domain: [0, 1] } },
          },
        },
        {
          mark: { type: 'text', fontSize: 10 },
          encoding: {
            x, y, description: DESCRIPTION, text: { field: 'count', type: 'quantitative' },
            color: { condition: { test: 'datum.fraction > 0.5', value: 'white' }, value: '#222' },
          },
        },
      ],
    };
  };
  return {
    config: CONFIG,
    title: { text: 'Confusion matrices', subtitle: 'Rows: true class; columns: predicted class; colour: share of the row.' },
    spacing: 28,
    hconcat: matrices.map(panel),
    resolve: { scale: { color: 'shared' } },
  };
}

/** The spectral profile plot (see SpectralSeries) as an SVG string. */
export async function spectralPlotSvg(series: SpectralSeries[]): Promise<string> {
  checkSpectral('spectralPlotSvg', series);
  return renderSvg(spectralSpec(series));
}

/** The learning curves plot, one panel per metric and one line per run, as an SVG string. */
export async function curvesPlotSvg(points: CurvePoint[]): Promise<string> {
  checkCurves('curvesPlotSvg', points);
  return renderSvg(curvesSpec(points));
}

/** A bar chart of the numeric column `metric` by the table's first column, as an SVG string. */
export async function resultsPlotSvg(table: ResultsTable, metric: string): Promise<string> {
  checkTable('resultsPlotSvg', table);
  checkResultsMetric('resultsPlotSvg', table, metric);
  return renderSvg(resultsSpec(table, metric));
}

/** Confusion matrices (see ConfusionMatrix), one heatmap per model, as an SVG string. */
export async function confusionPlotSvg(matrices: ConfusionMatrix[]): Promise<string> {
  checkConfusion('confusionPlotSvg', matrices);
  return renderSvg(confusionSpec(matrices));
}

/** Checks that `metric` is a numeric column other than the first, and that the first column names rows uniquely. */
export function checkResultsMetric(op: string, table: ResultsTable, metric: unknown): void {
  checkName(op, 'metric', metric);
  const j = table.columns.indexOf(metric);
  if (j < 0) argError(op, `no column ${JSON.stringify(metric)} (columns: ${table.columns.map((c) => JSON.stringify(c)).join(', ')})`);
  if (j === 0) argError(op, `column ${JSON.stringify(metric)} is the first column, which names the bars`);
  const i = table.rows.findIndex((row) => typeof row[j] !== 'number');
  if (i >= 0) argError(op, `column ${JSON.stringify(metric)} is not numeric: table.rows[${i}] has ${describe(table.rows[i][j])}`);
  const labels = table.rows.map((row) => String(row[0]));
  const dup = labels.find((l, k) => labels.indexOf(l) !== k);
  if (dup !== undefined) argError(op, `the first column (${JSON.stringify(table.columns[0])}) names two rows ${JSON.stringify(dup)}`);
}
