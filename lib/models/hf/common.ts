// What the Hugging Face encoders share: activations by transformers' names, the attention kernel (SDPA or
// the explicit path), the padding mask, transformers' weight initialisation, the model inputs and outputs,
// and the base class with savePretrained.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as nn from '../../nn';
import * as torch from '../../torch';
import { argError, kindOf, numbersArg, TorchError } from '../../torch/errors';
import { checkTensors, type Tensor } from '../../torch/tensor';
import { saveSafetensors } from '../../io';
import { checkPath } from '../../io/paths';
import { atomicWrite } from '../../data/idx';
import type { PretrainedConfig } from './config';

const F = nn.functional;

/** transformers' ACT2FN by name (activations.py), for hidden_act / activation. */
export function activation(name: string): (x: Tensor) => Tensor {
  const tanhGelu = (x: Tensor) => x.mul(0.5).mul(x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI)).tanh().add(1));
  switch (name) {
    case 'gelu': return (x) => F.gelu(x);
    case 'gelu_python': return (x) => x.mul(0.5).mul(x.div(Math.SQRT2).erf().add(1));
    case 'gelu_new':
    case 'gelu_python_tanh': return tanhGelu;
    case 'gelu_pytorch_tanh': return (x) => F.gelu(x, { approximate: 'tanh' });
    case 'gelu_fast': return (x) => x.mul(0.5).mul(x.mul(0.7978845608).mul(x.mul(x).mul(0.044715).add(1)).tanh().add(1));
    case 'quick_gelu': return (x) => x.mul(x.mul(1.702).sigmoid());
    case 'gelu_10': return (x) => F.gelu(x).clamp(-10, 10);
    case 'relu': return (x) => F.relu(x);
    case 'silu':
    case 'swish': return (x) => F.silu(x);
    case 'tanh': return (x) => x.tanh();
    case 'sigmoid': return (x) => x.sigmoid();
    case 'linear': return (x) => x;
    default:
      throw new TorchError(`activation ${JSON.stringify(name)} is not supported (gelu, gelu_python, gelu_new, gelu_pytorch_tanh, gelu_python_tanh, gelu_fast, quick_gelu, gelu_10, relu, silu, swish, tanh, sigmoid, linear)`);
  }
}

/**
 * The additive mask transformers' eager attention adds to the scores: [B, 1, 1, L] with 0 where
 * attentionMask is 1 and the dtype's lowest value where it is 0 (finite, so an all-padding row stays a
 * uniform softmax instead of NaN); null without a mask.
 */
export function extendedAttentionMask(attentionMask: Tensor | null | undefined, dtype: torch.DType, shape: number[]): Tensor | null {
  if (attentionMask === null || attentionMask === undefined) return null;
  checkTensors('hf.extendedAttentionMask', { attentionMask });
  const [B, L] = numbersArg('hf.extendedAttentionMask', 'shape', shape, true);
  if (attentionMask.ndim !== 2 || attentionMask.size(0) !== B || attentionMask.size(1) !== L) {
    throw new TorchError(`attentionMask must be [batch, length] = [${B}, ${L}], got [${attentionMask.shape.join(', ')}]`);
  }
  const lowest = dtype === 'float64' ? -Number.MAX_VALUE : dtype === 'float16' ? -65504 : dtype === 'bfloat16' ? -3.3895313892515355e38 : -3.4028234663852886e38;
  const keep = attentionMask.to('bool').reshape([B, 1, 1, L]);
  return torch.zeros([B, 1, 1, L], { dtype, device: attentionMask.device }).maskedFill(keep.logicalNot(), lowest);
}

/**
 * Scaled dot-product attention over heads q, k, v [B, H, L, d] with the additive mask [B, 1, 1, L]:
 * softmax(q kᵀ · d^−½ + mask) v. With `weights` the explicit path (transformers' eager_attention_forward:
 * matmul, scale, mask, softmax, dropout on the probabilities, matmul) runs and the probabilities [B, H, L, L]
 * (after dropout, as transformers returns them) come back too; otherwise F.scaledDotProductAttention
 * (transformers' 'sdpa', the fused kernel on libtorch 2.x) unless the config asks for 'eager'.
 */
export function attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, options: {
  dropout: nn.Dropout; weights: boolean; implementation: 'sdpa' | 'eager';
}): { context: Tensor; weights: Tensor | null } {
  const scaling = q.size(-1) ** -0.5;
  if (!options.weights && options.implementation === 'sdpa') {
    const p = options.dropout.training ? options.dropout.p : 0;
    return { context: F.scaledDotProductAttention(q, k, v, mask, p), weights: null };
  }
  let scores = torch.matmul(q, k.transpose(2, 3)).mul(scaling);
  if (mask !== null) scores = scores.add(mask);
  const probs = options.dropout.call(scores.softmax(-1));
  return { context: torch.matmul(probs, v), weights: options.weights ? probs : null };
}

/** [B, L, H·d] → [B, H, L, d]. */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [B, L, E] = x.shape;
  return x.view([B, L, heads, E / heads]).transpose(1, 2);
}

/** [B, H, L, d] → [B, L, H·d]. */
export function mergeHeads(x: Tensor): Tensor {
  const [B, H, L, d] = x.shape;
  return x.transpose(1, 2).contiguous().view([B, L, H * d]);
}

/**
 * transformers' PreTrainedModel._init_weights: Linear weights ~ N(0, initializer_range) with zero
 * biases, Embeddings ~ N(0, initializer_range) with a zero padding row, LayerNorm weight 1 and bias 0.
 */
export function initWeights(module: nn.Module, std: number): void {
  torch.noGrad(() => {
    for (const m of module.modules()) {
      if (m instanceof nn.Linear) {
        nn.init.normal_(m.weight, 0, std);
        if (m.bias) nn.init.zeros_(m.bias);
      } else if (m instanceof nn.Embedding) {
        nn.init.normal_(m.weight, 0, std);
        if (m.paddingIdx !== null) torch.tidy(() => { m.weight.select(0, m.paddingIdx as number).zero_(); });
      } else if (m instanceof nn.LayerNorm) {
        if (m.weight) nn.init.ones_(m.weight);
        if (m.bias) nn.init.zeros_(m.bias);
      }
    }
  });
}

/** What the models take (transformers' forward arguments in camelCase). */
export interface ModelInputs {
  /** Token ids [B, L] (int64 or int32). */
  inputIds: Tensor;
  /** `[B, L]`: 1 for real tokens, 0 for padding (default all ones). */
  attentionMask?: Tensor | null;
  /** Segment ids [B, L] (BERT; default zeros). DistilBERT has none. */
  tokenTypeIds?: Tensor | null;
  /** Position ids [B, L] (default 0..L−1; RoBERTa: from the padding, as transformers). */
  positionIds?: Tensor | null;
  /** Return the embeddings and every layer's output (default false). */
  outputHiddenStates?: boolean;
  /** Return every layer's attention probabilities [B, heads, L, L] (default false; uses the explicit path). */
  outputAttentions?: boolean;
}

/** A base model's outputs (BaseModelOutputWithPooling). */
export interface BaseModelOutput {
  /** [B, L, hidden]. */
  lastHiddenState: Tensor;
  /** tanh(W h_[CLS] + b) [B, hidden] for BERT-style models with a pooler; null otherwise. */
  poolerOutput: Tensor | null;
  /** [embeddings, layer 1, ..., layer N], each [B, L, hidden] (with outputHiddenStates). */
  hiddenStates?: Tensor[];
  /** Per layer [B, heads, L, L] (with outputAttentions). */
  attentions?: Tensor[];
}

/** A classifier's outputs (SequenceClassifierOutput). */
export interface SequenceClassifierOutput {
  /** With `labels`: the loss transformers computes for the config's problem_type. */
  loss?: Tensor;
  /** [B, numLabels]. */
  logits: Tensor;
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
}

export interface ClassifierInputs extends ModelInputs {
  /**
   * Class indices [B] (single-label: cross entropy), floats [B] or [B, numLabels] (regression: MSE), or
   * multi-hot [B, numLabels] (multi-label: BCE with logits), as transformers picks by problem_type.
   */
  labels?: Tensor;
}

/** Checks inputIds and returns [B, L]. */
export function checkInputs(op: string, inputs: ModelInputs): number[] {
  if (inputs === null || typeof inputs !== 'object' || !inputs.inputIds) {
    throw new TorchError(`${op}: call it with { inputIds, attentionMask?, ... } (inputIds: int64 [batch, length])`);
  }
  const ids = inputs.inputIds;
  if (ids.ndim !== 2 || (ids.dtype !== 'int64' && ids.dtype !== 'int32')) {
    throw new TorchError(`${op}: inputIds must be int64 [batch, length], got ${ids.dtype} [${ids.shape.join(', ')}]`);
  }
  for (const [name, t] of [['tokenTypeIds', inputs.tokenTypeIds], ['positionIds', inputs.positionIds]] as const) {
    if (t && (t.ndim !== 2 || t.size(0) !== ids.size(0) || t.size(1) !== ids.size(1))) {
      throw new TorchError(`${op}: ${name} must have inputIds' shape [${ids.shape.join(', ')}], got [${t.shape.join(', ')}]`);
    }
  }
  return ids.shape;
}

/** transformers' sequence-classification loss by problem_type (set from the labels on first use, as transformers). */
export function classificationLoss(config: PretrainedConfig, logits: Tensor, labels: Tensor): Tensor {
  const n = config.numLabels;
  if (config.problemType === null) {
    if (n === 1) config.problemType = 'regression';
    else if (labels.dtype === 'int64' || labels.dtype === 'int32') config.problemType = 'single_label_classification';
    else config.problemType = 'multi_label_classification';
  }
  switch (config.problemType) {
    case 'regression':
      return n === 1 ? F.mseLoss(logits.squeeze(), labels.squeeze().to(logits.dtype)) : F.mseLoss(logits, labels.to(logits.dtype));
    case 'single_label_classification':
      return F.crossEntropy(logits.view([-1, n]), labels.view([-1]).to('int64'));
    case 'multi_label_classification':
      return F.binaryCrossEntropyWithLogits(logits, labels.to(logits.dtype));
    default:
      throw new TorchError(`unknown problem_type ${JSON.stringify(config.problemType)}`);
  }
}

const BYTES: Partial<Record<torch.DType, number>> = { float64: 8, int64: 8, float32: 4, int32: 4, float16: 2, bfloat16: 2, int16: 2, int8: 1, uint8: 1, bool: 1 };
const nbytes = (t: Tensor) => t.numel() * (BYTES[t.dtype] ?? 4);

export interface SavePretrainedOptions {
  /** Largest shard in bytes (default 5 GB; larger models are split into model-0000i-of-0000n.safetensors plus an index). */
  maxShardSize?: number;
}

/**
 * Base of the Hugging Face models: a config, the transformers class name, and savePretrained, which writes
 * config.json and model.safetensors (format 'pt', what transformers' from_pretrained reads), sharded with
 * model.safetensors.index.json above maxShardSize. Files are written atomically.
 */
/** Refuses an argument that is not a Hugging Face model (BertModel, RobertaForSequenceClassification...). */
export function checkModel(op: string, name: string, model: unknown): void {
  if (!(model instanceof PreTrainedModel)) argError(op, `${name} must be a Hugging Face model (PreTrainedModel), got ${kindOf(model)}`);
}

export abstract class PreTrainedModel extends nn.Module {
  abstract readonly config: PretrainedConfig;
  /** The transformers class this model mirrors ('BertForSequenceClassification', ...). */
  abstract readonly className: string;
  /** What fromPretrained did with the checkpoint's keys (transformers' output_loading_info). */
  loadingInfo: { missingKeys: string[]; unexpectedKeys: string[]; mismatchedKeys: string[] } = { missingKeys: [], unexpectedKeys: [], mismatchedKeys: [] };

  savePretrained(dir: string, options: SavePretrainedOptions = {}): void {
    checkPath(`${this.constructor.name}.savePretrained`, dir);
    const maxShardSize = options.maxShardSize ?? 5e9;
    mkdirSync(dir, { recursive: true });
    const config = this.config.toDict(this.className);
    config.dtype = this.parameters()[0]?.dtype ?? 'float32';
    atomicWrite(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    torch.tidy(() => {
      const sd = Object.fromEntries(Object.entries(this.stateDict()).map(([k, t]) => [k, t.contiguous()]));
      const shards: Record<string, Tensor>[] = [{}];
      let size = 0;
      for (const [k, t] of Object.entries(sd)) {
        const bytes = nbytes(t);
        if (size > 0 && size + bytes > maxShardSize) {
          shards.push({});
          size = 0;
        }
        shards[shards.length - 1][k] = t;
        size += bytes;
      }
      const metadata = { format: 'pt' };
      if (shards.length === 1) {
        saveSafetensors(join(dir, 'model.safetensors'), shards[0], { metadata });
        return;
      }
      const pad = (i: number) => String(i).padStart(5, '0');
      const weightMap: Record<string, string> = {};
      let total = 0;
      shards.forEach((shard, i) => {
        const name = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
        saveSafetensors(join(dir, name), shard, { metadata });
        for (const [k, t] of Object.entries(shard)) {
          weightMap[k] = name;
          total += nbytes(t);
        }
      });
      atomicWrite(join(dir, 'model.safetensors.index.json'), `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)}\n`);
    });
  }
}
