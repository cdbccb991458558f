// HTML reports of the commands' runs (report.writeReport): results table, learning curves read back from
// the runs' metrics.jsonl logs, spectral profiles.
import { existsSync, readFileSync } from 'node:fs';
import * as report from '../report';

/**
 * The learning curves of a Trainer log (metrics.jsonl): 'train loss' from its train records, 'valid
 * accuracy' and 'valid loss' from its eval records, labelled `run`.
 */
export function curvesFromLog(path: string, run: string): report.CurvePoint[] {
  if (!existsSync(path)) return [];
  const points: report.CurvePoint[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as { type: string; step: number; loss?: number; accuracy?: number };
    const add = (metric: string, value: number | undefined) => {
      if (typeof value === 'number' && Number.isFinite(value)) points.push({ run, step: r.step, metric, value });
    };
    if (r.type === 'train') add('train loss', r.loss);
    if (r.type === 'eval') {
      add('valid accuracy', r.accuracy);
      add('valid loss', r.loss);
    }
  }
  return points;
}

export { report };
