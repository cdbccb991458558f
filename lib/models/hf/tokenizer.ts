// AutoTokenizer: a Hugging Face tokenizer folder (tokenizer.json + tokenizer_config.json) read by
// @huggingface/tokenizers (Hugging Face's pure-JS port of the tokenizers pipeline: normalizer,
// pre-tokenizer, WordPiece / BPE / Unigram model, post-processor). On top of it, what transformers'
// PreTrainedTokenizerFast.__call__ adds: truncation (the Rust crate's longest_first / only_first /
// only_second), padding (longest or max_length, left or right, pad_to_multiple_of) and int64 tensors.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as torch from '../../torch';
import { TorchError } from '../../torch/errors';
import type { Tensor } from '../../torch/tensor';
import { atomicWrite } from '../../data/idx';
import { checkPath } from '../../io/paths';

/** transformers' padding argument in camelCase: true = 'longest'. */
export type PaddingStrategy = boolean | 'longest' | 'maxLength' | 'doNotPad';
/** transformers' truncation argument in camelCase: true = 'longestFirst'. */
export type TruncationStrategy = boolean | 'longestFirst' | 'onlyFirst' | 'onlySecond' | 'doNotTruncate';

export interface TokenizerCallOptions {
  /** Second sequences (sentence pairs), one per text. */
  textPair?: string | string[];
  /** Default false (as transformers): then every text must have the same length. */
  padding?: PaddingStrategy;
  /** Default false; true cuts to maxLength (or the model's max length). */
  truncation?: TruncationStrategy;
  /** Length limit of truncation and of padding 'maxLength' (default model_max_length). */
  maxLength?: number;
  /** Pads lengths up to a multiple of this. */
  padToMultipleOf?: number;
  /** Add [CLS]/[SEP] (or <s>/</s>) as the post-processor says (default true). */
  addSpecialTokens?: boolean;
  /** Default: whether the tokenizer's model_input_names has token_type_ids. */
  returnTokenTypeIds?: boolean;
}

/** What call() returns: int64 [B, L] tensors (the caller frees them). */
export interface BatchEncoding {
  inputIds: Tensor;
  attentionMask: Tensor;
  tokenTypeIds?: Tensor;
}

/** transformers' VERY_LARGE_INTEGER: model_max_length at or above it means no limit. */
const VERY_LARGE = 1e29;

/** Tokenizer classes whose model_input_names leave out token_type_ids (transformers' class attributes). */
const NO_TOKEN_TYPES = /^(Roberta|XLMRoberta|Camembert|DistilBert|Bart|GPT2|Longformer|MPNet|Deberta|Llama|T5)/;

type Json = Record<string, unknown>;

function readJson(path: string): Json {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Json;
  } catch (e) {
    throw new TorchError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** A special token of tokenizer_config.json: a string or an AddedToken object { content, ... }. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

/** One encoded sequence before padding. */
interface Encoded {
  ids: number[];
  typeIds: number[];
}

/**
 * A fast tokenizer (transformers' PreTrainedTokenizerFast) over tokenizer.json. `call(texts, options)`
 * returns int64 tensors; `encode`, `decode`, `tokenize` and the special token ids are there as in
 * transformers.
 */
export class PreTrainedTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly vocab: Map<string, number>;
  /** model_max_length (Infinity when unset or transformers' "very large"). */
  readonly modelMaxLength: number;
  readonly paddingSide: 'right' | 'left';
  readonly truncationSide: 'right' | 'left';
  readonly padToken: string | null;
  readonly unkToken: string | null;
  readonly clsToken: string | null;
  readonly sepToken: string | null;
  readonly maskToken: string | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  /** The inputs the model takes ('input_ids', 'token_type_ids'?, 'attention_mask'). */
  readonly modelInputNames: string[];
  private readonly files: { dir: string; names: string[] };

  constructor(readonly tokenizerJson: Json, readonly tokenizerConfig: Json, source: { dir: string; names: string[] } = { dir: '', names: [] }) {
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new TorchError(`tokenizer.json could not be read by @huggingface/tokenizers: ${(e as Error).message}`);
    }
    this.files = source;
    this.vocab = this.tokenizer.get_vocab(true);
    const max = tokenizerConfig.model_max_length;
    this.modelMaxLength = typeof max === 'number' && max < VERY_LARGE ? max : Infinity;
    this.paddingSide = tokenizerConfig.padding_side === 'left' ? 'left' : 'right';
    this.truncationSide = tokenizerConfig.truncation_side === 'left' ? 'left' : 'right';
    const padding = tokenizerJson.padding as Json | null | undefined;
    this.padToken = tokenContent(tokenizerConfig.pad_token) ?? (typeof padding?.pad_token === 'string' ? padding.pad_token : null);
    this.unkToken = tokenContent(tokenizerConfig.unk_token);
    this.clsToken = tokenContent(tokenizerConfig.cls_token);
    this.sepToken = tokenContent(tokenizerConfig.sep_token);
    this.maskToken = tokenContent(tokenizerConfig.mask_token);
    this.bosToken = tokenContent(tokenizerConfig.bos_token);
    this.eosToken = tokenContent(tokenizerConfig.eos_token);
    const names = tokenizerConfig.model_input_names;
    const cls = typeof tokenizerConfig.tokenizer_class === 'string' ? tokenizerConfig.tokenizer_class : '';
    this.modelInputNames = Array.isArray(names) ? names.map(String)
      : NO_TOKEN_TYPES.test(cls) ? ['input_ids', 'attention_mask'] : ['input_ids', 'token_type_ids', 'attention_mask'];
  }

  /** Reads DIR/tokenizer.json and DIR/tokenizer_config.json (and keeps DIR's tokenizer files for savePretrained). */
  static fromPretrained(dir: string): PreTrainedTokenizer {
    checkPath('AutoTokenizer.fromPretrained', dir);
    const path = join(dir, 'tokenizer.json');
    if (!existsSync(path)) {
      throw new TorchError(`${dir}: no tokenizer.json (torchkd reads fast tokenizers; in Python, AutoTokenizer.from_pretrained(dir).save_pretrained(dir) writes one)`);
    }
    const configPath = join(dir, 'tokenizer_config.json');
    const config = existsSync(configPath) ? readJson(configPath) : {};
    const names = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'].filter((n) => existsSync(join(dir, n)));
    return new PreTrainedTokenizer(readJson(path), config, { dir, names });
  }

  /** The size of the vocabulary with the added tokens. */
  get vocabSize(): number {
    return this.vocab.size;
  }
  private idOf(token: string | null): number | null {
    return token === null ? null : this.vocab.get(token) ?? null;
  }
  get padTokenId(): number | null {
    const padding = this.tokenizerJson.padding as Json | null | undefined;
    return this.idOf(this.padToken) ?? (typeof padding?.pad_id === 'number' ? padding.pad_id : null);
  }
  get unkTokenId(): number | null { return this.idOf(this.unkToken); }
  get clsTokenId(): number | null { return this.idOf(this.clsToken); }
  get sepTokenId(): number | null { return this.idOf(this.sepToken); }
  get maskTokenId(): number | null { return this.idOf(this.maskToken); }

  /** The tokens of a text (no special tokens), as transformers' tokenize(). */
  tokenize(text: string): string[] {
    return this.tokenizer.tokenize(checkText(text), { add_special_tokens: false });
  }
  convertTokensToIds(tokens: string[]): number[] {
    const unk = this.unkTokenId;
    return tokens.map((t) => {
      const id = this.vocab.get(t) ?? unk;
      if (id === null) throw new TorchError(`token ${JSON.stringify(t)} is not in the vocabulary and there is no unknown token`);
      return id;
    });
  }
  convertIdsToTokens(ids: number[]): string[] {
    return ids.map((id) => this.tokenizer.id_to_token(id) ?? this.unkToken ?? '');
  }

  /** The ids of one text (or pair), with special tokens and optional truncation, as transformers' encode(). */
  encode(text: string, options: Omit<TokenizerCallOptions, 'padding' | 'padToMultipleOf' | 'returnTokenTypeIds'> & { textPair?: string } = {}): number[] {
    return this.encodeOne(checkText(text), options.textPair === undefined ? null : checkText(options.textPair), options).ids;
  }

  /** The text of ids, as transformers' decode (skipSpecialTokens default false). */
  decode(ids: number[] | Tensor, options: { skipSpecialTokens?: boolean; cleanUpTokenizationSpaces?: boolean } = {}): string {
    const list = Array.isArray(ids) ? ids : (ids.toArray() as number[]).flat(Infinity as 1) as number[];
    if (list.length === 0) return '';
    return this.tokenizer.decode(list.map(Number), {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces ?? null,
    });
  }

  /** The number of special tokens the post-processor adds to a single text or a pair. */
  numSpecialTokensToAdd(pair = false): number {
    const pp = this.tokenizer.post_processor;
    if (!pp) return 0;
    return pp([], pair ? [] : null, true).tokens.length;
  }

  private encodeOne(a: string, b: string | null, options: TokenizerCallOptions): Encoded {
    const add = options.addSpecialTokens ?? true;
    let first = this.tokenize(a);
    let second = b === null ? null : this.tokenize(b);
    const strategy = truncationStrategy(options.truncation, options.maxLength);
    if (strategy !== 'doNotTruncate') {
      const max = options.maxLength ?? this.modelMaxLength;
      if (Number.isFinite(max)) {
        const room = max - (add ? this.numSpecialTokensToAdd(second !== null) : 0);
        if (room < 0) throw new TorchError(`maxLength ${max} is shorter than the special tokens the tokenizer adds`);
        [first, second] = truncate(first, second, room, max, strategy, this.truncationSide);
      }
    }
    const pp = this.tokenizer.post_processor;
    let tokens: string[];
    let typeIds: number[] | undefined;
    if (pp) {
      const r = pp(first, second, add);
      tokens = r.tokens;
      typeIds = r.token_type_ids;
    } else {
      tokens = [...first, ...(second ?? [])];
    }
    typeIds ??= [...first.map(() => 0), ...(second ?? []).map(() => 1)];
    if (typeIds.length !== tokens.length) typeIds = tokens.map(() => 0);
    return { ids: this.convertTokensToIds(tokens), typeIds };
  }

  /**
   * transformers' tokenizer(texts, padding=..., truncation=..., max_length=..., return_tensors='pt'):
   * { inputIds, attentionMask, tokenTypeIds? } as int64 [B, L]. Padding uses pad_token (attention 0,
   * token type 0) on padding_side.
   */
  call(texts: string | string[], options: TokenizerCallOptions = {}): BatchEncoding {
    const list = Array.isArray(texts) ? texts : [texts];
    if (list.length === 0) throw new TorchError('tokenizer.call(): no texts');
    const pairs = options.textPair === undefined ? null : Array.isArray(options.textPair) ? options.textPair : [options.textPair];
    if (pairs !== null && pairs.length !== list.length) throw new TorchError(`tokenizer.call(): ${list.length} texts but ${pairs.length} textPair entries`);
    const encoded = list.map((t, i) => this.encodeOne(checkText(t), pairs === null ? null : checkText(pairs[i]), options));
    const padding = options.padding === true ? 'longest' : options.padding === false || options.padding === undefined ? 'doNotPad' : options.padding;
    if (!['longest', 'maxLength', 'doNotPad'].includes(padding)) throw new TorchError(`tokenizer.call(): padding must be true, false, 'longest', 'maxLength' or 'doNotPad', got ${JSON.stringify(options.padding)}`);
    let length = Math.max(...encoded.map((e) => e.ids.length));
    if (padding === 'maxLength') {
      length = options.maxLength ?? this.modelMaxLength;
      if (!Number.isFinite(length)) throw new TorchError("tokenizer.call(): padding 'maxLength' needs maxLength (the tokenizer has no model_max_length)");
    }
    const multiple = options.padToMultipleOf;
    if (multiple !== undefined) {
      if (!Number.isInteger(multiple) || multiple < 1) throw new TorchError(`tokenizer.call(): padToMultipleOf must be a positive integer, got ${multiple}`);
      if (padding !== 'doNotPad') length = Math.ceil(length / multiple) * multiple;
    }
    const pad = padding === 'doNotPad' ? null : this.padTokenId;
    if (padding !== 'doNotPad' && pad === null) throw new TorchError('tokenizer.call(): the tokenizer has no padding token (pad_token); it cannot pad');
    const withTypes = options.returnTokenTypeIds ?? this.modelInputNames.includes('token_type_ids');
    const B = list.length;
    const ids = new BigInt64Array(B * length);
    const mask = new BigInt64Array(B * length);
    const types = new BigInt64Array(B * length);
    encoded.forEach((e, i) => {
      const n = e.ids.length;
      if (n > length || (pad === null && n !== length)) {
        throw new TorchError(`tokenizer.call(): the texts have different lengths (${n} and ${length} tokens); pass padding: true (and truncation: true for texts longer than maxLength)`);
      }
      const offset = i * length + (this.paddingSide === 'left' ? length - n : 0);
      const padFrom = this.paddingSide === 'left' ? i * length : i * length + n;
      ids.fill(BigInt(pad ?? 0), padFrom, padFrom + (length - n));
      for (let j = 0; j < n; j++) {
        ids[offset + j] = BigInt(e.ids[j]);
        mask[offset + j] = 1n;
        types[offset + j] = BigInt(e.typeIds[j]);
      }
    });
    const tensor = (data: BigInt64Array) => torch.tensor(data, { shape: [B, length], dtype: 'int64' });
    const out: BatchEncoding = { inputIds: tensor(ids), attentionMask: tensor(mask) };
    if (withTypes) out.tokenTypeIds = tensor(types);
    return out;
  }

  /** Copies the tokenizer's files (tokenizer.json, tokenizer_config.json, special_tokens_map.json) into dir. */
  savePretrained(dir: string): void {
    checkPath('PreTrainedTokenizer.savePretrained', dir);
    mkdirSync(dir, { recursive: true });
    if (this.files.dir === '') {
      writeJson(join(dir, 'tokenizer.json'), this.tokenizerJson);
      writeJson(join(dir, 'tokenizer_config.json'), this.tokenizerConfig);
      return;
    }
    for (const name of this.files.names) {
      if (join(this.files.dir, name) !== join(dir, name)) copyFileSync(join(this.files.dir, name), join(dir, name));
    }
  }
}

function writeJson(path: string, value: unknown): void {
  atomicWrite(path, `${JSON.stringify(value, null, 2)}\n`);
}

function checkText(t: unknown): string {
  if (typeof t !== 'string') throw new TorchError(`tokenizer: texts must be strings, got ${t === null ? 'null' : typeof t}`);
  return t;
}

function truncationStrategy(t: TruncationStrategy | undefined, maxLength: number | undefined): 'longestFirst' | 'onlyFirst' | 'onlySecond' | 'doNotTruncate' {
  if (t === undefined || t === false) return 'doNotTruncate';
  if (t === true) return 'longestFirst';
  if (!['longestFirst', 'onlyFirst', 'onlySecond', 'doNotTruncate'].includes(t)) {
    throw new TorchError(`tokenizer: truncation must be true, false, 'longestFirst', 'onlyFirst', 'onlySecond' or 'doNotTruncate', got ${JSON.stringify(t)}`);
  }
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 0)) throw new TorchError(`tokenizer: maxLength must be a non-negative integer, got ${maxLength}`);
  return t;
}

/** Keeps the first n tokens (or the last n with truncation_side 'left'). */
function cut(tokens: string[], n: number, side: 'left' | 'right'): string[] {
  if (tokens.length <= n) return tokens;
  return side === 'left' ? tokens.slice(tokens.length - n) : tokens.slice(0, n);
}

/** The tokenizers crate's truncate_encodings for `room` tokens of content. */
function truncate(a: string[], b: string[] | null, room: number, maxLength: number, strategy: 'longestFirst' | 'onlyFirst' | 'onlySecond', side: 'left' | 'right'): [string[], string[] | null] {
  const total = a.length + (b?.length ?? 0);
  if (total <= room) return [a, b];
  if (b === null) {
    if (strategy === 'onlySecond') throw new TorchError("tokenizer: truncation 'onlySecond' needs a textPair");
    return [cut(a, room, side), null];
  }
  if (strategy === 'onlyFirst' || strategy === 'onlySecond') {
    const [target, other] = strategy === 'onlyFirst' ? [a, b] : [b, a];
    const keep = room - other.length;
    if (keep < 0) throw new TorchError(`tokenizer: truncation '${strategy}' cannot fit the pair in ${room} tokens (the other sequence alone has ${other.length})`);
    const cutOne = cut(target, keep, side);
    return strategy === 'onlyFirst' ? [cutOne, b] : [a, cutOne];
  }
  // longest_first as the crate does it (measured against tokenizers 0.23 through transformers): the shorter
  // sequence keeps what it can and the longer one the rest; when both exceed half the room, the longer keeps
  // ⌈room/2⌉ (the second on ties), except that once the shorter reaches maxLength (special tokens
  // included) the first keeps ⌊room/2⌋ and the second the rest.
  const shorter = Math.min(a.length, b.length);
  const half = Math.floor(room / 2);
  if (shorter <= room - shorter) {
    const longer = room - shorter;
    return a.length <= b.length ? [a, cut(b, longer, side)] : [cut(a, longer, side), b];
  }
  if (shorter < maxLength && a.length > b.length) return [cut(a, room - half, side), cut(b, half, side)];
  return [cut(a, half, side), cut(b, room - half, side)];
}

/** AutoTokenizer.fromPretrained(dir): the folder's fast tokenizer. */
export const AutoTokenizer = {
  fromPretrained(dir: string): PreTrainedTokenizer {
    return PreTrainedTokenizer.fromPretrained(dir);
  },
};
