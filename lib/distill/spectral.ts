// SpectralKD: the spectrum of hidden states along the channel axis shows which layers carry information
// (intensity per layer, a U shape over depth for transformers), and a loss aligns features in the
// frequency domain.
import * as nn from '../nn';
import * as torch from '../torch';
import { TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';

/** 'NLH': [batch, sequence, hidden] (transformers); 'BCHW': [batch, channels, height, width] (CNNs). */
export type FeatureLayout = 'NLH' | 'BCHW';

const channelDim = (layout: FeatureLayout) => (layout === 'NLH' ? -1 : 1);

function checkLayout(x: Tensor, layout: FeatureLayout, op: string): void {
  const rank = layout === 'NLH' ? 3 : 4;
  if (layout !== 'NLH' && layout !== 'BCHW') throw new TorchError(`${op}(): layout must be 'NLH' or 'BCHW', got ${String(layout)}`);
  if (x.dim() !== rank) throw new TorchError(`${op}(): layout ${layout} expects a ${rank}-D tensor, got shape [${x.shape.join(', ')}]`);
}

export interface IntensityOptions {
  layout?: FeatureLayout;
  /** Keep the first `bins` frequencies (all C by default) and also return their profile. */
  bins?: number;
}

/**
 * Spectral intensity of one layer's features: the 1-D FFT along the channel axis at every position,
 * its magnitude √(re² + im²), averaged over positions and the kept frequency bins → one number. With
 * `bins`, also the mean magnitude of each kept frequency.
 */
export function spectralIntensity(x: Tensor, options: IntensityOptions = {}): { intensity: number; profile?: number[] } {
  const { layout = 'NLH', bins } = options;
  checkLayout(x, layout, 'spectralIntensity');
  return torch.tidy(() => {
    const dim = channelDim(layout);
    let magnitude = torch.fft.fft(x, { dim }).abs();
    const channels = x.size(dim);
    if (bins !== undefined) {
      if (!Number.isInteger(bins) || bins < 1 || bins > channels) {
        throw new TorchError(`spectralIntensity(): bins must be an integer in [1, ${channels}], got ${bins}`);
      }
      magnitude = magnitude.narrow(dim, 0, bins);
    }
    // Frequencies last, everything else flattened into positions.
    const perFrequency = (layout === 'NLH' ? magnitude : magnitude.permute([0, 2, 3, 1]))
      .reshape([-1, bins ?? channels]).mean(0);
    const intensity = perFrequency.mean().item();
    return bins === undefined ? { intensity } : { intensity, profile: perFrequency.toArray() as number[] };
  });
}

/** The intensity of each layer's features (a list of hidden states), in order. */
export function spectralProfile(layers: Tensor[], options: IntensityOptions = {}): number[] {
  return layers.map((h) => spectralIntensity(h, { layout: options.layout }).intensity);
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
export function selectLayers(profile: number[], options: SelectOptions = {}): number[] {
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

/** Average-pools the channel axis of the teacher's features down to the student's width. */
function poolChannels(x: Tensor, channels: number, layout: FeatureLayout): Tensor {
  const dim = channelDim(layout);
  if (x.size(dim) === channels) return x;
  const last = layout === 'NLH' ? x : x.permute([0, 2, 3, 1]);
  const shape = last.shape;
  const pooled = nn.functional.adaptiveAvgPool1d(last.reshape([-1, 1, shape[shape.length - 1]]), channels)
    .reshape([...shape.slice(0, -1), channels]);
  return layout === 'NLH' ? pooled : pooled.permute([0, 3, 1, 2]);
}

export interface SpectralLossOptions {
  layout?: FeatureLayout;
  /** Use the full fft2 (or fft for NLH) instead of the real-input rfft2 (Parseval checks use it). */
  full?: boolean;
}

/**
 * SpectralKD's feature loss: teacher channels average-pooled to the student's count when wider; a 2-D FFT
 * over the spatial axes (1-D over the sequence for NLH) with norm 'ortho'; the mean squared error between
 * the stacked real and imaginary parts. With `full`, by Parseval it equals half the spatial MSE.
 */
export function spectralLoss(featS: Tensor, featT: Tensor, options: SpectralLossOptions = {}): Tensor {
  const { layout = 'NLH', full = false } = options;
  checkLayout(featS, layout, 'spectralLoss');
  checkLayout(featT, layout, 'spectralLoss');
  const channels = featS.size(channelDim(layout));
  if (featT.size(channelDim(layout)) < channels) {
    throw new TorchError(`spectralLoss(): the teacher has fewer channels (${featT.size(channelDim(layout))}) than the student (${channels})`);
  }
  return torch.tidy(() => {
    const t = poolChannels(featT, channels, layout);
    const transform = (x: Tensor) => layout === 'NLH'
      ? (full ? torch.fft.fft(x, { dim: 1, norm: 'ortho' }) : torch.fft.rfft(x, { dim: 1, norm: 'ortho' }))
      : (full ? torch.fft.fft2(x, { norm: 'ortho' }) : torch.fft.rfft2(x, { norm: 'ortho' }));
    return nn.functional.mseLoss(torch.viewAsReal(transform(featS)), torch.viewAsReal(transform(t)));
  });
}
