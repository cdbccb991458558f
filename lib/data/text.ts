// Text classification: CSV / JSONL readers, a word tokenizer, a vocabulary and a label vocabulary.
import { readFileSync } from 'node:fs';
import { formatValue, optionsArg, stringArg, stringsArg, TorchError } from '../torch/errors';
import { tensor } from '../torch/creation';
import type { Tensor } from '../torch/tensor';
import { atomicWrite } from './idx';
import { checkPath } from '../io/paths';

/** One labelled text, with the line it starts on (1-based) in its file. */
export interface TextExample {
  text: string;
  label: string;
  line: number;
}

/**
 * Parses CSV per RFC 4180: comma-separated fields, double-quoted fields may hold commas, newlines and
 * doubled quotes (""); CRLF or LF line ends. Returns rows with the 1-based line each starts on. Errors
 * (unterminated quote, text after a closing quote, a quote inside an unquoted field) name the line.
 */
export function parseCsv(text: string, name = 'CSV'): { fields: string[]; line: number }[] {
  stringArg('parseCsv', 'text', text);
  stringArg('parseCsv', 'name', name);
  const rows: { fields: string[]; line: number }[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const rowLine = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        const quoteLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new TorchError(`parseCsv(): ${name}: line ${quoteLine}: unterminated quoted field`);
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
            } else {
              i++;
              break;
            }
          } else {
            if (c === '\n') line++;
            field += c;
            i++;
          }
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          throw new TorchError(`parseCsv(): ${name}: line ${line}: unexpected character ${JSON.stringify(text[i])} after a closing quote`);
        }
      } else {
        const start = i;
        while (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"') throw new TorchError(`parseCsv(): ${name}: line ${line}: quote inside an unquoted field (quote the whole field and double the quote)`);
          i++;
        }
        field = text.slice(start, i);
      }
      fields.push(field);
      if (i < n && text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') {
      i++;
      line++;
    }
    // A blank line is no record.
    if (!(fields.length === 1 && fields[0] === '')) rows.push({ fields, line: rowLine });
  }
  return rows;
}

export interface ReadTextOptions {
  /** 'csv' or 'jsonl'; by default from the extension (.csv, .jsonl / .ndjson / .json). */
  format?: 'csv' | 'jsonl';
  /** Column / key of the text (default 'text'). */
  textField?: string;
  /** Column / key of the label (default 'label'). */
  labelField?: string;
}

function fromCsv(content: string, name: string, textField: string, labelField: string): TextExample[] {
  const rows = parseCsv(content, name);
  if (rows.length === 0) throw new TorchError(`readTextClassification(): ${name}: empty file, expected a header with ${textField},${labelField}`);
  const header = rows[0].fields.map((h) => h.trim());
  const ti = header.indexOf(textField);
  const li = header.indexOf(labelField);
  if (ti < 0 || li < 0) {
    throw new TorchError(`readTextClassification(): ${name}: line ${rows[0].line}: header [${header.join(', ')}] lacks column '${ti < 0 ? textField : labelField}'`);
  }
  return rows.slice(1).map(({ fields, line }) => {
    if (fields.length !== header.length) {
      throw new TorchError(`readTextClassification(): ${name}: line ${line}: expected ${header.length} fields, got ${fields.length}`);
    }
    return { text: fields[ti], label: fields[li], line };
  });
}

function fromJsonl(content: string, name: string, textField: string, labelField: string): TextExample[] {
  const out: TextExample[] = [];
  content.split('\n').forEach((raw, k) => {
    const line = k + 1;
    const s = raw.trim();
    if (s === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(s);
    } catch (e) {
      throw new TorchError(`readTextClassification(): ${name}: line ${line}: invalid JSON (${(e as Error).message})`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new TorchError(`readTextClassification(): ${name}: line ${line}: expected an object like {"${textField}": ..., "${labelField}": ...}`);
    }
    const rec = obj as Record<string, unknown>;
    const text = rec[textField];
    const label = rec[labelField];
    if (typeof text !== 'string') throw new TorchError(`readTextClassification(): ${name}: line ${line}: '${textField}' must be a string, got ${JSON.stringify(text) ?? 'nothing'}`);
    if (typeof label !== 'string' && typeof label !== 'number' && typeof label !== 'boolean') {
      throw new TorchError(`readTextClassification(): ${name}: line ${line}: '${labelField}' must be a string or number, got ${JSON.stringify(label) ?? 'nothing'}`);
    }
    out.push({ text, label: String(label), line });
  });
  return out;
}

/** Parses labelled texts from CSV (a header naming the columns) or JSONL content. Labels become strings. */
export function parseTextClassification(content: string, format: 'csv' | 'jsonl', options?: ReadTextOptions & { name?: string }): TextExample[] {
  stringArg('parseTextClassification', 'content', content);
  stringArg('parseTextClassification', 'format', format);
  options = optionsArg('parseTextClassification', options);
  const name = options.name ?? format.toUpperCase();
  const textField = options.textField ?? 'text';
  const labelField = options.labelField ?? 'label';
  if (format === 'csv') return fromCsv(content, name, textField, labelField);
  if (format === 'jsonl') return fromJsonl(content, name, textField, labelField);
  throw new TorchError(`readTextClassification(): format must be 'csv' or 'jsonl', got ${String(format)}`);
}

/** Reads labelled texts from a CSV or JSONL file; errors name the file and line. */
export function readTextClassification(path: string, options: ReadTextOptions = {}): TextExample[] {
  checkPath('readTextClassification', path);
  let format = options.format;
  if (format === undefined) {
    if (/\.csv$/i.test(path)) format = 'csv';
    else if (/\.(jsonl|ndjson|json)$/i.test(path)) format = 'jsonl';
    else throw new TorchError(`readTextClassification(): cannot tell the format of ${path}; pass format: 'csv' or 'jsonl'`);
  }
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TorchError(`readTextClassification(): cannot read ${path}: ${(e as Error).message}`);
  }
  return parseTextClassification(content, format, { ...options, name: path });
}

export interface TokenizerOptions {
  /** Lower-case before splitting (default true). */
  lowercase?: boolean;
  /** Append the bigrams ("new york") after the words (default false). */
  bigrams?: boolean;
}

const WORD = /[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu;

/**
 * Splits text into word tokens: runs of letters and digits; an apostrophe between two of them stays
 * inside the word (don't, o'neil), other apostrophes and every other character separate words. Curly
 * apostrophes count as straight ones. With bigrams, the pairs of adjacent words follow, joined by a space.
 */
export class Tokenizer {
  readonly lowercase: boolean;
  readonly bigrams: boolean;

  constructor(options: TokenizerOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TorchError(`Tokenizer(): options must be an object, got ${formatValue(options)}`);
    for (const k of ['lowercase', 'bigrams'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'boolean') {
        throw new TorchError(`Tokenizer(): ${k} must be a boolean, got ${formatValue(options[k])}`);
      }
    }
    this.lowercase = options.lowercase ?? true;
    this.bigrams = options.bigrams ?? false;
  }

  tokenize(text: string): string[] {
    stringArg('Tokenizer.tokenize', 'text', text);
    let s = text.replace(/[\u2018\u2019\u02bc]/g, "'");
    if (this.lowercase) s = s.toLowerCase();
    const words = s.match(WORD) ?? [];
    if (!this.bigrams) return words;
    const out = [...words];
    for (let i = 0; i + 1 < words.length; i++) out.push(`${words[i]} ${words[i + 1]}`);
    return out;
  }

  toJSON(): Required<TokenizerOptions> {
    return { lowercase: this.lowercase, bigrams: this.bigrams };
  }
}

export interface VocabOptions extends TokenizerOptions {
  /** Keep tokens seen at least this often (default 1). */
  minFreq?: number;
  /** At most this many entries in all, specials included. */
  maxSize?: number;
  /** The padding token, index 0 (default '<pad>'). */
  padToken?: string;
  /** The out-of-vocabulary token, index 1 (default '<unk>'). */
  oovToken?: string;
}

export interface EncodeOptions {
  /** Truncate to this many tokens; encodeBatch also pads every row to it. */
  maxLength?: number;
}

/** What Vocab.save writes. */
export interface VocabJSON {
  format: 'torchkd.vocab';
  version: 1;
  tokenizer: Required<TokenizerOptions>;
  tokens: string[];
  padIndex: number;
  oovIndex: number;
}

function checkLength(op: string, maxLength: number | undefined): void {
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength <= 0)) {
    throw new TorchError(`${op}: maxLength must be a positive integer, got ${maxLength}`);
  }
}

/**
 * A token ↔ index map with its tokenizer. Index 0 is padding and index 1 the out-of-vocabulary token;
 * then tokens by decreasing frequency, ties in code-point order (as torchtext's build_vocab_from_iterator).
 */
export class Vocab {
  readonly tokenizer: Tokenizer;
  readonly tokens: readonly string[];
  readonly padIndex = 0;
  readonly oovIndex = 1;
  private readonly index: Map<string, number>;

  constructor(tokens: readonly string[], tokenizer: Tokenizer = new Tokenizer()) {
    stringsArg('Vocab', 'tokens', tokens);
    if (!(tokenizer instanceof Tokenizer)) throw new TorchError(`Vocab(): tokenizer must be a Tokenizer, got ${formatValue(tokenizer)}`);
    if (tokens.length < 2) throw new TorchError('Vocab(): tokens must start with the padding and the out-of-vocabulary tokens');
    this.tokens = [...tokens];
    this.tokenizer = tokenizer;
    this.index = new Map();
    this.tokens.forEach((t, i) => {
      if (this.index.has(t)) throw new TorchError(`Vocab(): duplicate token ${JSON.stringify(t)} at indices ${this.index.get(t)} and ${i}`);
      this.index.set(t, i);
    });
  }

  /** Counts the tokens of `texts` and keeps those seen at least minFreq times. */
  static build(texts: Iterable<string>, options: VocabOptions = {}): Vocab {
    const tokenizer = new Tokenizer(options);
    const minFreq = options.minFreq ?? 1;
    if (!Number.isInteger(minFreq) || minFreq < 1) throw new TorchError(`Vocab.build(): minFreq must be a positive integer, got ${minFreq}`);
    const pad = options.padToken ?? '<pad>';
    const oov = options.oovToken ?? '<unk>';
    if (pad === oov) throw new TorchError('Vocab.build(): padToken and oovToken must differ');
    const counts = new Map<string, number>();
    for (const text of texts) {
      for (const tok of tokenizer.tokenize(text)) counts.set(tok, (counts.get(tok) ?? 0) + 1);
    }
    counts.delete(pad);
    counts.delete(oov);
    const kept = [...counts].filter(([, c]) => c >= minFreq)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([t]) => t);
    let tokens = [pad, oov, ...kept];
    if (options.maxSize !== undefined) {
      if (!Number.isInteger(options.maxSize) || options.maxSize < 2) throw new TorchError(`Vocab.build(): maxSize must be an integer >= 2, got ${options.maxSize}`);
      tokens = tokens.slice(0, options.maxSize);
    }
    return new Vocab(tokens, tokenizer);
  }

  get length(): number {
    return this.tokens.length;
  }

  /** The index of a token, or oovIndex. */
  indexOf(token: string): number {
    return this.index.get(token) ?? this.oovIndex;
  }

  /** Token indices of a text, truncated to maxLength (no padding). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    checkLength('Vocab.encode()', options.maxLength);
    const ids = this.tokenizer.tokenize(text).map((t) => this.indexOf(t));
    return options.maxLength === undefined ? ids : ids.slice(0, options.maxLength);
  }

  /**
   * An int64 [texts.length, L] tensor: each text truncated to maxLength and right-padded with padIndex,
   * L = maxLength, or the longest text when maxLength is not given.
   */
  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): Tensor {
    checkLength('Vocab.encodeBatch()', options.maxLength);
    const rows = texts.map((t) => this.encode(t, options));
    const width = options.maxLength ?? rows.reduce((m, r) => Math.max(m, r.length), 0);
    const flat = new Int32Array(rows.length * width).fill(this.padIndex);
    rows.forEach((r, i) => flat.set(r, i * width));
    return tensor(flat, { shape: [rows.length, width], dtype: 'int64' });
  }

  /** The tokens of indices (padding dropped). */
  decode(ids: readonly number[]): string[] {
    return ids.filter((i) => i !== this.padIndex).map((i) => {
      const t = this.tokens[i];
      if (t === undefined) throw new TorchError(`Vocab.decode(): index ${i} is out of range for a vocabulary of ${this.length}`);
      return t;
    });
  }

  toJSON(): VocabJSON {
    return { format: 'torchkd.vocab', version: 1, tokenizer: this.tokenizer.toJSON(), tokens: [...this.tokens], padIndex: 0, oovIndex: 1 };
  }

  static fromJSON(json: unknown, name = 'vocabulary JSON'): Vocab {
    const j = json as Partial<VocabJSON> | null;
    if (j === null || typeof j !== 'object' || j.format !== 'torchkd.vocab' || !Array.isArray(j.tokens) ||
        !j.tokens.every((t) => typeof t === 'string') || typeof j.tokenizer !== 'object' || j.tokenizer === null) {
      throw new TorchError(`Vocab.fromJSON(): ${name} is not a torchkd vocabulary (format 'torchkd.vocab' with tokens and tokenizer)`);
    }
    if (j.version !== 1) throw new TorchError(`Vocab.fromJSON(): ${name}: unsupported version ${String(j.version)}`);
    return new Vocab(j.tokens, new Tokenizer(j.tokenizer));
  }

  /** Writes the vocabulary as JSON (atomically: a temporary file, then rename). */
  save(path: string): void {
    atomicWrite(path, JSON.stringify(this.toJSON()));
  }

  static load(path: string): Vocab {
    return Vocab.fromJSON(readJson(path, 'Vocab.load'), path);
  }
}

function readJson(path: string, op: string): unknown {
  checkPath(op, path);
  let s: string;
  try {
    s = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TorchError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new TorchError(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

/** What LabelVocab.save writes. */
export interface LabelVocabJSON {
  format: 'torchkd.labels';
  version: 1;
  labels: string[];
}

/**
 * Class labels ↔ indices. build() sorts the distinct labels: numerically when all are numbers (so "0".."9"
 * map to 0..9), else in code-point order.
 */
export class LabelVocab {
  readonly labels: readonly string[];
  private readonly index: Map<string, number>;

  constructor(labels: readonly string[]) {
    if (!Array.isArray(labels)) throw new TorchError(`LabelVocab(): labels must be an array of strings, got ${formatValue(labels)}`);
    // Element by element: a sparse array fails at its first hole (spreading it would exhaust the heap).
    for (let i = 0; i < labels.length; i++) {
      if (typeof labels[i] !== 'string') throw new TorchError(`LabelVocab(): labels[${i}] must be a string, got ${formatValue(labels[i])}`);
    }
    this.labels = [...labels];
    this.index = new Map(this.labels.map((l, i) => [l, i]));
    if (this.index.size !== this.labels.length) throw new TorchError('LabelVocab(): duplicate labels');
  }

  static build(labels: Iterable<string>): LabelVocab {
    const distinct = [...new Set(labels)];
    const numeric = distinct.length > 0 && distinct.every((l) => l.trim() !== '' && Number.isFinite(Number(l)));
    distinct.sort(numeric ? (a, b) => Number(a) - Number(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return new LabelVocab(distinct);
  }

  get length(): number {
    return this.labels.length;
  }

  /** The index of a label; unknown labels throw. */
  indexOf(label: string): number {
    const i = this.index.get(label);
    if (i === undefined) throw new TorchError(`LabelVocab.indexOf(): unknown label ${JSON.stringify(label)} (known: ${this.labels.slice(0, 20).map((l) => JSON.stringify(l)).join(', ')}${this.length > 20 ? ', ...' : ''})`);
    return i;
  }

  /** An int64 [labels.length] tensor of indices. */
  encode(labels: readonly string[]): Tensor {
    return tensor(Int32Array.from(labels, (l) => this.indexOf(l)), { dtype: 'int64' });
  }

  toJSON(): LabelVocabJSON {
    return { format: 'torchkd.labels', version: 1, labels: [...this.labels] };
  }

  static fromJSON(json: unknown, name = 'label JSON'): LabelVocab {
    const j = json as Partial<LabelVocabJSON> | null;
    if (j === null || typeof j !== 'object' || j.format !== 'torchkd.labels' || j.version !== 1 || !Array.isArray(j.labels) ||
        !j.labels.every((l) => typeof l === 'string')) {
      throw new TorchError(`LabelVocab.fromJSON(): ${name} is not a torchkd label vocabulary (format 'torchkd.labels', version 1)`);
    }
    return new LabelVocab(j.labels);
  }

  save(path: string): void {
    atomicWrite(path, JSON.stringify(this.toJSON()));
  }

  static load(path: string): LabelVocab {
    return LabelVocab.fromJSON(readJson(path, 'LabelVocab.load'), path);
  }
}
