// Console progress for training runs: a redrawn bar on a TTY (steps/s, ETA, current losses), plain
// periodic lines otherwise (logs, CI), nothing when silenced.

import { argError, formatValue, intArg, objectArg, stringArg } from '../torch/errors';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export function formatLosses(values: Record<string, number>): string {
  return Object.entries(values).map(([k, v]) => `${k} ${Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(4)}`).join('  ');
}

export class ProgressReporter {
  private readonly mode: 'bar' | 'lines' | 'none';
  private readonly started = Date.now();
  private lastDraw = 0;
  private lastLine = 0;
  private drawn = false;

  /** `lineEverySeconds` spaces the plain lines (default 10 s). */
  constructor(mode: ProgressMode, private readonly total: number, private readonly label = 'train',
    private readonly stream: ProgressStream = process.stderr, private readonly lineEverySeconds = 10) {
    const op = 'ProgressReporter';
    if (!['auto', 'bar', 'lines', 'none'].includes(mode)) argError(op, `mode must be 'auto', 'bar', 'lines' or 'none', got ${formatValue(mode)}`);
    intArg(op, 'total', total);
    stringArg(op, 'label', label);
    if (typeof objectArg(op, 'stream', stream).write !== 'function') argError(op, 'stream must have a write(text) method');
    if (typeof lineEverySeconds !== 'number' || !(lineEverySeconds >= 0)) argError(op, `lineEverySeconds must be a non-negative number, got ${formatValue(lineEverySeconds)}`);
    this.mode = mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : mode;
  }

  /** Reports that `step` of `total` steps are done. */
  update(step: number, losses: Record<string, number>, force = false): void {
    if (typeof step !== 'number' || !Number.isFinite(step)) argError('ProgressReporter.update', `step must be a finite number, got ${formatValue(step)}`);
    for (const [k, v] of Object.entries(objectArg('ProgressReporter.update', 'losses', losses))) {
      if (typeof v !== 'number') argError('ProgressReporter.update', `losses.${k} must be a number, got ${formatValue(v)}`);
    }
    if (this.mode === 'none') return;
    const now = Date.now();
    const elapsed = (now - this.started) / 1000;
    const rate = step / Math.max(elapsed, 1e-9);
    const eta = (this.total - step) / rate;
    if (this.mode === 'bar') {
      if (!force && now - this.lastDraw < 100 && step < this.total) return;
      this.lastDraw = now;
      const width = 24;
      const filled = Math.round((width * step) / Math.max(this.total, 1));
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      let line = `${this.label} ${bar} ${step}/${this.total} ${rate.toFixed(1)} it/s ETA ${clock(eta)}  ${formatLosses(losses)}`;
      const cols = this.stream.columns ?? 120;
      if (line.length > cols - 1) line = line.slice(0, cols - 1);
      this.stream.write(`\r\x1b[2K${line}`);
      this.drawn = true;
      return;
    }
    if (!force && now - this.lastLine < this.lineEverySeconds * 1000 && step < this.total) return;
    this.lastLine = now;
    this.stream.write(`${this.label} step ${step}/${this.total} (${rate.toFixed(1)} it/s, ETA ${clock(eta)}) ${formatLosses(losses)}\n`);
  }

  /** A line of its own (evaluation results), without breaking the bar. */
  message(text: string): void {
    stringArg('ProgressReporter.message', 'text', text);
    if (this.mode === 'none') return;
    if (this.mode === 'bar' && this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(`${text}\n`);
    this.lastDraw = 0;
  }

  done(): void {
    if (this.mode === 'bar' && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
