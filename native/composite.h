// Composites: functions that PyTorch implements in Python (torch.nn.functional, torch.fft helpers) on top
// of ATen ops. The op table calls them through its C++ column. Each follows the Python source's semantics.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "compat.h"
#include "torchkd.h"

// Called from the op table's C++ column as composite::name(...).
namespace tkd {
namespace composite {

/** 'none' | 'mean' | 'sum' → at::Reduction. */
inline int64_t reductionOf(const std::string& reduction) {
  if (reduction == "none") return at::Reduction::None;
  if (reduction == "mean") return at::Reduction::Mean;
  if (reduction == "sum") return at::Reduction::Sum;
  throw ArgError(reduction + " is not a valid value for reduction (expected 'none', 'mean' or 'sum')");
}

/** F.kl_div: reduction 'batchmean' is the sum divided by the batch size (input.size(0)). */
inline at::Tensor klDiv(const at::Tensor& input, const at::Tensor& target, const std::string& reduction,
                        bool logTarget) {
  if (reduction == "batchmean") {
    at::Tensor sum = at::kl_div(input, target, at::Reduction::Sum, logTarget);
    return input.dim() == 0 ? sum : sum / input.size(0);
  }
  return at::kl_div(input, target, reductionOf(reduction), logTarget);
}

/** F.normalize: input / max(‖input‖_p along dim, eps). */
inline at::Tensor normalize(const at::Tensor& input, double p, int64_t dim, double eps) {
  at::Tensor denom = input.norm(p, dim, /*keepdim=*/true).clamp_min(eps).expand_as(input);
  return input / denom;
}

/** F.embedding(input, weight, padding_idx): a negative padding index counts from the end. */
inline at::Tensor embedding(const at::Tensor& input, const at::Tensor& weight, c10::optional<int64_t> paddingIdx,
                            bool scaleGradByFreq, bool sparse) {
  int64_t padding = -1;
  if (paddingIdx) {
    padding = *paddingIdx;
    TORCH_CHECK(padding < weight.size(0) && padding >= -weight.size(0), "Padding_idx must be within num_embeddings");
    if (padding < 0) padding += weight.size(0);
  }
  return at::embedding(weight, input, padding, scaleGradByFreq, sparse);
}

/** F.embedding_bag: mode 'sum' | 'mean' | 'max'; 2-D input means fixed-length bags (offsets must be None). */
inline at::Tensor embeddingBag(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& offsets,
                               const std::string& mode, const c10::optional<at::Tensor>& perSampleWeights,
                               bool includeLastOffset, c10::optional<int64_t> paddingIdx) {
  int64_t modeId = mode == "sum" ? 0 : mode == "mean" ? 1 : mode == "max" ? 2 : -1;
  if (modeId < 0) throw ArgError("mode has to be one of sum, mean or max");
  at::Tensor indices = input;
  at::Tensor offs;
  c10::optional<at::Tensor> weights = perSampleWeights;
  if (input.dim() == 2) {
    TORCH_CHECK(!offsets.has_value() || !offsets->defined(), "if input is 2D, then offsets has to be None");
    offs = at::arange(0, input.numel(), input.size(1), input.options().dtype(at::kLong));
    indices = input.reshape(-1);
    if (weights && weights->defined()) weights = weights->reshape(-1);
  } else {
    TORCH_CHECK(input.dim() == 1, "input has to be 1D or 2D Tensor, but got Tensor of dimension ", input.dim());
    TORCH_CHECK(offsets.has_value() && offsets->defined(), "offsets has to be a 1D Tensor but got None");
    offs = *offsets;
  }
  // No padding index is nullopt: libtorch treats -1 as an index.
  c10::optional<int64_t> padding;
  if (paddingIdx) padding = *paddingIdx < 0 ? *paddingIdx + weight.size(0) : *paddingIdx;
  return std::get<0>(at::embedding_bag(weight, indices, offs, false, modeId, false, weights, includeLastOffset, padding));
}

/** F.interpolate for 3-D, 4-D and 5-D inputs: size or scale factor; nearest, (bi|tri)linear, bicubic. */
inline at::Tensor interpolate(const at::Tensor& input, at::OptionalIntArrayRef size,
                              c10::optional<at::ArrayRef<double>> scaleFactor, const std::string& mode,
                              c10::optional<bool> alignCorners) {
  const int64_t spatial = input.dim() - 2;
  TORCH_CHECK(spatial >= 1 && spatial <= 3, "interpolate expects a 3-D, 4-D or 5-D input, got ", input.dim(), "-D");
  TORCH_CHECK(size.has_value() != scaleFactor.has_value(), "either size or scale_factor should be defined");
  std::vector<int64_t> outSize;
  std::vector<double> scales;
  if (size) {
    outSize.assign(size->begin(), size->end());
    if (outSize.size() == 1) outSize.assign(spatial, outSize[0]);
    TORCH_CHECK(static_cast<int64_t>(outSize.size()) == spatial, "size has ", outSize.size(), " entries, input has ",
                spatial, " spatial dimensions");
  } else {
    scales.assign(scaleFactor->begin(), scaleFactor->end());
    if (scales.size() == 1) scales.assign(spatial, scales[0]);
    TORCH_CHECK(static_cast<int64_t>(scales.size()) == spatial, "scale_factor has ", scales.size(),
                " entries, input has ", spatial, " spatial dimensions");
  }
  const bool linearMode = mode == "linear" || mode == "bilinear" || mode == "trilinear" || mode == "bicubic";
  TORCH_CHECK(linearMode || !alignCorners.has_value(),
              "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear");
  at::OptionalIntArrayRef os = size ? at::OptionalIntArrayRef(outSize) : at::OptionalIntArrayRef();
  c10::optional<at::ArrayRef<double>> sf = size ? c10::nullopt : c10::optional<at::ArrayRef<double>>(scales);
  const bool ac = alignCorners.value_or(false);
  if (mode == "nearest") {
    if (spatial == 1) return at::upsample_nearest1d(input, os, sf);
    if (spatial == 2) return at::upsample_nearest2d(input, os, sf);
    return at::upsample_nearest3d(input, os, sf);
  }
  if (mode == "linear" && spatial == 1) return at::upsample_linear1d(input, os, ac, sf);
  if (mode == "bilinear" && spatial == 2) return at::upsample_bilinear2d(input, os, ac, sf);
  if (mode == "bicubic" && spatial == 2) return at::upsample_bicubic2d(input, os, ac, sf);
  if (mode == "trilinear" && spatial == 3) return at::upsample_trilinear3d(input, os, ac, sf);
  throw ArgError("mode '" + mode + "' does not apply to a " + std::to_string(input.dim()) +
                 "-D input (nearest | linear (3-D) | bilinear, bicubic (4-D) | trilinear (5-D))");
}

/**
 * F.scaled_dot_product_attention: softmax(Q Kᵀ · scale + mask) V with dropout on the weights; scale
 * defaults to 1/√d; a boolean mask marks the positions that may be attended; is_causal masks the future.
 * libtorch 2.x has the fused kernel; 1.13 gets the same math here.
 */
inline at::Tensor scaledDotProductAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                            const c10::optional<at::Tensor>& mask, double dropoutP, bool isCausal,
                                            c10::optional<double> scale) {
  if (auto fused = compat::fusedScaledDotProductAttention(q, k, v, mask, dropoutP, isCausal, scale)) return *fused;
  TORCH_CHECK(!(isCausal && mask.has_value() && mask->defined()), "attn_mask and is_causal cannot both be set");
  const double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * s;
  if (isCausal) {
    at::Tensor keep = at::ones({q.size(-2), k.size(-2)}, q.options().dtype(at::kBool)).tril();
    scores = scores.masked_fill(keep.logical_not(), -std::numeric_limits<double>::infinity());
  } else if (mask.has_value() && mask->defined()) {
    scores = mask->scalar_type() == at::kBool
                 ? scores.masked_fill(mask->logical_not(), -std::numeric_limits<double>::infinity())
                 : scores + *mask;
  }
  at::Tensor weights = at::softmax(scores, -1);
  if (dropoutP > 0) weights = at::dropout(weights, dropoutP, /*train=*/true);
  return at::matmul(weights, v);
}

/**
 * F.lp_pool1d / lp_pool2d (by the kernel's rank): (sign(s)·relu(|s|)·k)^(1/p) with s = avg_pool(x^p) over
 * windows of k elements, no padding (stride defaults to the kernel); p = ±∞ is the max pool of |x| (2.x).
 */
inline at::Tensor lpPool(const at::Tensor& input, double p, at::IntArrayRef kernel, at::OptionalIntArrayRef stride,
                         bool ceilMode) {
  bool two = kernel.size() == 2;
  std::vector<int64_t> s = stride.has_value() ? stride->vec() : kernel.vec();
  std::vector<int64_t> zero(kernel.size(), 0);
  std::vector<int64_t> one(kernel.size(), 1);
  if (std::isinf(p)) {
    at::Tensor a = p > 0 ? input.abs() : -input.abs();
    at::Tensor m = two ? at::max_pool2d(a, kernel, s, zero, one, ceilMode) : at::max_pool1d(a, kernel, s, zero, one, ceilMode);
    return p > 0 ? m : -m;
  }
  at::Tensor powered = input.pow(p);
  at::Tensor out = two ? at::avg_pool2d(powered, kernel, s, zero, ceilMode) : at::avg_pool1d(powered, kernel, s, zero, ceilMode);
  int64_t count = 1;
  for (int64_t k : kernel) count *= k;
  return (at::sign(out) * at::relu(at::abs(out))).mul(count).pow(1.0 / p);
}

/** fftfreq / rfftfreq options: PyTorch's default dtype (float32) on the given device. */
inline at::TensorOptions creationOptions(c10::optional<at::ScalarType> dtype, c10::optional<at::Device> device) {
  return at::TensorOptions().dtype(dtype.value_or(at::kFloat)).device(device.value_or(at::Device(at::kCPU)));
}

}  // namespace composite
}  // namespace tkd
