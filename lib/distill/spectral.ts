// SpectralKD: the spectrum of hidden states along the channel axis shows which layers carry information
// (intensity per layer, a U shape over depth for transformers), and a loss aligns features in the
// frequency domain.
import * as nn from '../nn';
import * as torch from '../torch';
import { numbersArg, optionsArg, TorchError } from '../torch/errors';
import { checkTensors, tensorsOf, type Tensor } from '../torch/tensor';

/**
 * 'NLH': [batch, sequence, hidden] (transformers over text); 'BCHW': [batch, channels, height, width] (CNNs);
 * 'vit': ViT tokens [batch, prefix + H·W, hidden], read as the BCHW map of the patch grid after dropping the
 * prefix (class / distillation) tokens, as timm's forward_intermediates hands them to SpectralKD. Without a
 * layout, 3-D features are 'NLH' and 4-D ones 'BCHW'.
 */
export type FeatureLayout = 'NLH' | 'BCHW' | 'vit';

/** How ViT tokens map onto the patch grid ('vit' layout). */
export interface VitTokenOptions {
  /** Leading tokens that are not patches (default 1, the class token; 2 for DeiT's distilled models, 0 for CaiT's blocks). */
  prefixTokens?: number;
  /** The patch grid [H, W] (default square: √(tokens − prefix) on each side). */
  grid?: [number, number];
}

const LAYOUTS: FeatureLayout[] = ['NLH', 'BCHW', 'vit'];

function resolveLayout(x: Tensor, layout: FeatureLayout | undefined, op: string): FeatureLayout {
  const chosen = layout ?? (x.dim() === 4 ? 'BCHW' : 'NLH');
  if (!LAYOUTS.includes(chosen)) throw new TorchError(`${op}(): layout must be 'NLH', 'BCHW' or 'vit', got ${String(layout)}`);
  const rank = chosen === 'BCHW' ? 4 : 3;
  if (x.dim() !== rank) throw new TorchError(`${op}(): layout ${chosen} expects a ${rank}-D tensor, got shape [${x.shape.join(', ')}]`);
  return chosen;
}

/** ViT tokens [B, P + H·W, C] → the patch map [B, C, H, W] (prefix tokens dropped). */
export function vitPatchMap(tokens: Tensor, options?: VitTokenOptions): Tensor {
  checkTensors('vitPatchMap', { tokens });
  options = optionsArg('vitPatchMap', options);
  const { prefixTokens = 1 } = options;
  if (tokens.dim() !== 3) throw new TorchError(`vitPatchMap(): expects tokens [B, L, C], got shape [${tokens.shape.join(', ')}]`);
  const [B, L, C] = tokens.shape;
  const patches = L - prefixTokens;
  if (!Number.isInteger(prefixTokens) || prefixTokens < 0 || patches < 1) {
    throw new TorchError(`vitPatchMap(): prefixTokens must be an integer in [0, ${L - 1}], got ${prefixTokens}`);
  }
  const side = Math.round(Math.sqrt(patches));
  const [H, W] = options.grid === undefined ? [side, side] : numbersArg('vitPatchMap', 'grid', options.grid, true);
  if (H * W !== patches) {
    throw new TorchError(`vitPatchMap(): ${patches} patch tokens do not fill a ${H}×${W} grid${options.grid ? '' : ' (pass grid: [H, W])'}`);
  }
  return torch.tidy(() => tokens.narrow(1, prefixTokens, patches).reshape([B, H, W, C]).permute([0, 3, 1, 2]));
}

export interface IntensityOptions extends VitTokenOptions {
  layout?: FeatureLayout;
  /** Keep the first `bins` frequencies (all C by default) and also return their profile. */
  bins?: number;
  /**
   * 'NLH' only: `[B, L]`, 1 (or true) at real tokens; the average runs over those tokens only, so that
   * padding does not enter a text model's profile.
   */
  mask?: Tensor;
}

/**
 * Spectral intensity of one layer's features: the 1-D FFT along the channel axis at every position (every
 * token for 'NLH', every patch token for 'vit'), its magnitude √(re² + im²), averaged over positions and the
 * kept frequency bins → one number. With `bins`, also the mean magnitude of each kept frequency.
 */
export function spectralIntensity(x: Tensor, options?: IntensityOptions): { intensity: number; profile?: number[] } {
  options = optionsArg('spectralIntensity', options);
  const { bins, mask } = options;
  checkTensors('spectralIntensity', { x }, { mask });
  const layout = resolveLayout(x, options.layout, 'spectralIntensity');
  if (mask && (layout !== 'NLH' || mask.dim() !== 2 || mask.size(0) !== x.size(0) || mask.size(1) !== x.size(1))) {
    throw new TorchError(`spectralIntensity(): mask must be [B, L] for 'NLH' features [B, L, H]; got mask [${mask.shape.join(', ')}] for ${layout} [${x.shape.join(', ')}]`);
  }
  return torch.tidy(() => {
    // Channels last, everything else flattened into positions (the real tokens only, with a mask).
    const lastC = layout === 'BCHW' ? x.permute([0, 2, 3, 1]) : layout === 'vit' ? vitPatchMap(x, options).permute([0, 2, 3, 1])
      : mask ? x.index([mask.to('bool')]) : x;
    const channels = lastC.size(-1);
    let magnitude = torch.fft.fft(lastC, { dim: -1 }).abs();
    if (bins !== undefined) {
      if (!Number.isInteger(bins) || bins < 1 || bins > channels) {
        throw new TorchError(`spectralIntensity(): bins must be an integer in [1, ${channels}], got ${bins}`);
      }
      magnitude = magnitude.narrow(-1, 0, bins);
    }
    const perFrequency = magnitude.reshape([-1, bins ?? channels]).mean(0);
    const intensity = perFrequency.mean().item();
    return bins === undefined ? { intensity } : { intensity, profile: perFrequency.toArray() as number[] };
  });
}

/** The intensity of each layer's features (a list of hidden states), in order. */
export function spectralProfile(layers: Tensor[], options?: IntensityOptions): number[] {
  const { layout, prefixTokens, grid, mask } = optionsArg('spectralProfile', options);
  return tensorsOf('spectralProfile', 'layers', layers).map((h) => spectralIntensity(h, { layout, prefixTokens, grid, mask }).intensity);
}

export interface SelectOptions {
  /**
   * 'top': the k most intense layers (default k 2); 'edges': the leading and trailing runs of layers whose
   * intensity is at least the profile's mean (the two arms of a U-shaped profile, e.g. layers 1-9 and 21-23
   * of a 24-layer RoBERTa), all of them by default or at most k (the most intense); 'threshold': every
   * layer with intensity ≥ k · max (k in (0, 1]).
   */
  strategy?: 'top' | 'edges' | 'threshold';
  k?: number;
}

/** Indices of the selected layers, ascending. */
export function selectLayers(profile: number[], options?: SelectOptions): number[] {
  numbersArg('selectLayers', 'profile', profile);
  options = optionsArg('selectLayers', options);
  const { strategy = 'top' } = options;
  const k = options.k ?? (strategy === 'edges' ? profile.length : 2);
  if (strategy !== 'threshold' && !(Number.isInteger(k) && k >= 1)) throw new TorchError(`selectLayers(): k must be a positive integer for '${strategy}', got ${k}`);
  const byIntensity = (ids: number[]) => [...ids].sort((a, b) => profile[b] - profile[a] || a - b);
  let chosen: number[];
  if (strategy === 'top') {
    chosen = byIntensity(profile.map((_, i) => i)).slice(0, k);
  } else if (strategy === 'edges') {
    const mean = profile.reduce((s, v) => s + v, 0) / profile.length;
    const run = new Set<number>();
    for (let i = 0; i < profile.length && profile[i] >= mean; i++) run.add(i);
    for (let i = profile.length - 1; i >= 0 && profile[i] >= mean; i--) run.add(i);
    chosen = byIntensity([...run]).slice(0, k);
  } else if (strategy === 'threshold') {
    if (!(k > 0 && k <= 1)) throw new TorchError(`selectLayers(): the 'threshold' strategy takes k in (0, 1], got ${k}`);
    const max = Math.max(...profile);
    chosen = profile.map((_, i) => i).filter((i) => profile[i] >= k * max);
  } else {
    throw new TorchError(`selectLayers(): unknown strategy ${JSON.stringify(strategy)} (top | edges | threshold)`);
  }
  return chosen.sort((a, b) => a - b);
}

/** Average-pools the last axis of x down to `channels` (adaptive average pooling, as SpectralKD's adaptive_avg_pool3d). */
function poolLast(x: Tensor, channels: number): Tensor {
  const shape = x.shape;
  if (shape[shape.length - 1] === channels) return x;
  return nn.functional.adaptiveAvgPool1d(x.reshape([-1, 1, shape[shape.length - 1]]), channels).reshape([...shape.slice(0, -1), channels]);
}

export interface SpectralLossOptions {
  layout?: FeatureLayout;
  /** 'vit' layout: prefix tokens of student and teacher (one number for both, or [student, teacher]); default 1. */
  prefixTokens?: number | [number, number];
  /** 'vit' layout: the patch grids (one [H, W] for both, or [[H_s, W_s], [H_t, W_t]]); default square. */
  grid?: [number, number] | [[number, number], [number, number]];
  /** Use the full fft2 (or fft for NLH) instead of the real-input rfft2 (Parseval checks use it). */
  full?: boolean;
}

/**
 * SpectralKD's feature loss: teacher channels average-pooled to the student's count when wider; a 2-D FFT
 * over the spatial axes (the patch grid for 'vit', 1-D over the sequence for 'NLH') with norm 'ortho'; the
 * mean squared error between the stacked real and imaginary parts (a mean over every element, no further
 * scaling; SpectralKD's layer_fft_loss). With `full`, by Parseval it equals half the spatial MSE.
 */
export function spectralLoss(featS: Tensor, featT: Tensor, options?: SpectralLossOptions): Tensor {
  checkTensors('spectralLoss', { featS, featT });
  options = optionsArg('spectralLoss', options);
  const { full = false } = options;
  const layout = resolveLayout(featS, options.layout, 'spectralLoss');
  resolveLayout(featT, layout, 'spectralLoss');
  return torch.tidy(() => {
    let s = featS;
    let t = featT;
    if (layout === 'vit') {
      const { prefixTokens: prefix, grid } = options;
      const side = (k: 0 | 1): VitTokenOptions => ({
        prefixTokens: Array.isArray(prefix) ? prefix[k] : prefix,
        grid: grid === undefined ? undefined : Array.isArray(grid[0]) ? (grid as [number, number][])[k] : grid as [number, number],
      });
      s = vitPatchMap(featS, side(0));
      t = vitPatchMap(featT, side(1));
    }
    const spatial = layout !== 'NLH';
    const channels = s.size(spatial ? 1 : -1);
    const teacherChannels = t.size(spatial ? 1 : -1);
    if (teacherChannels < channels) {
      throw new TorchError(`spectralLoss(): the teacher has fewer channels (${teacherChannels}) than the student (${channels})`);
    }
    if (spatial) {
      t = poolLast(t.permute([0, 2, 3, 1]), channels).permute([0, 3, 1, 2]);
      if (t.size(2) !== s.size(2) || t.size(3) !== s.size(3)) {
        throw new TorchError(`spectralLoss(): spatial sizes differ (student ${s.size(2)}×${s.size(3)}, teacher ${t.size(2)}×${t.size(3)})`);
      }
    } else {
      t = poolLast(t, channels);
    }
    const transform = (x: Tensor) => !spatial
      ? (full ? torch.fft.fft(x, { dim: 1, norm: 'ortho' }) : torch.fft.rfft(x, { dim: 1, norm: 'ortho' }))
      : (full ? torch.fft.fft2(x, { norm: 'ortho' }) : torch.fft.rfft2(x, { norm: 'ortho' }));
    return nn.functional.mseLoss(torch.viewAsReal(transform(s)), torch.viewAsReal(transform(t)));
  });
}
