// The one place where libtorch versions differ (1.13 to 2.14). Everything else in native/ is written once
// against the names defined here. Version macros come from torch/version.h; where a change is better
// detected by what a type is than by a version number (the owner of autograd Nodes changed in 2.13), a type
// trait decides, so that a build between two known versions still takes the right branch.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/function.h>
#include <torch/version.h>

#include <memory>
#include <type_traits>
#include <utility>

#define TKD_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace tkd {
namespace compat {

// ------------------------------------------------------------------------------------ autograd Nodes
// Up to 2.12 a Node is owned by std::shared_ptr (enable_shared_from_this, created with the deleteNode
// deleter that frees long graphs without deep recursion); from 2.13 by c10::intrusive_ptr.

constexpr bool kIntrusiveNodes = std::is_base_of_v<c10::intrusive_ptr_target, torch::autograd::Node>;

template <class T>
using NodePtr = std::conditional_t<kIntrusiveNodes, c10::intrusive_ptr<T>, std::shared_ptr<T>>;

namespace detail {
// Unqualified with an argument of type N*, so deleteNode is looked up (by ADL: torch::autograd is the
// namespace of N's base Node) only where the shared_ptr branch is instantiated; libtorch versions without
// it never see the name.
template <class N>
void deleteNodeOf(N* node) {
  deleteNode(node);
}
}  // namespace detail

/** A new Node of type T, owned as this libtorch owns Nodes. */
template <class T, class... Args>
NodePtr<T> makeNode(Args&&... args) {
  if constexpr (kIntrusiveNodes) {
    return c10::make_intrusive<T>(std::forward<Args>(args)...);
  } else {
    return std::shared_ptr<T>(new T(std::forward<Args>(args)...), &detail::deleteNodeOf<T>);
  }
}

/** An owning pointer to a Node from inside one of its methods (for SavedVariable::unpack). */
template <class N>
auto selfPtr(N* node) {
  if constexpr (kIntrusiveNodes) {
    return c10::intrusive_ptr<torch::autograd::Node>::unsafe_reclaim_from_nonowning(node);
  } else {
    return node->shared_from_this();
  }
}

// ------------------------------------------------------------------------------------------- autocast
// libtorch 2.4 replaced the per-device autocast setters with ones taking the device type.

inline bool autocastEnabled(at::DeviceType device) {
#if TKD_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(device);
#else
  return device == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

inline at::ScalarType autocastDtype(at::DeviceType device) {
#if TKD_TORCH_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(device);
#else
  return device == at::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}

inline void setAutocast(at::DeviceType device, bool enabled, at::ScalarType dtype) {
#if TKD_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(device, enabled);
  at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == at::kCPU) {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

// ------------------------------------------------------------------------------------------ optimizers
// native/optim.cc repeats torch.optim's Python kernels op for op. PyTorch 2.x updates the running means
// with lerp (Adam's exp_avg, RMSprop's grad_avg: avg.lerp_(x, 1 − β)) where 1.13 had avg·β + x·(1 − β);
// the two round differently. (Checked on 1.13, 2.13 and 2.14.)

/** avg ← avg·beta + x·(1 − beta), as this PyTorch's optimizers compute it. */
inline void runningMean(at::Tensor& avg, const at::Tensor& x, double beta) {
#if TKD_TORCH_AT_LEAST(2, 0)
  avg.lerp_(x, 1 - beta);
#else
  avg.mul_(beta).add_(x, 1 - beta);
#endif
}

// ------------------------------------------------------------------------------------------------ ops

/** at::scaled_dot_product_attention (fused kernels, with `scale`) from 2.1; nullopt before, where the caller
 *  computes the same math itself. */
inline c10::optional<at::Tensor> fusedScaledDotProductAttention(const at::Tensor& q, const at::Tensor& k,
                                                                const at::Tensor& v,
                                                                const c10::optional<at::Tensor>& mask,
                                                                double dropoutP, bool isCausal,
                                                                c10::optional<double> scale) {
#if TKD_TORCH_AT_LEAST(2, 1)
  return at::scaled_dot_product_attention(q, k, v, mask, dropoutP, isCausal, scale);
#else
  return c10::nullopt;
#endif
}

}  // namespace compat
}  // namespace tkd
