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

// ------------------------------------------------------------------------------------------------ c10d
// For native/distributed.cc only, which includes the c10d headers and defines TKD_C10D before this file.
// Up to 1.13 ProcessGroupGloo is itself a ProcessGroup; from 2.0 it is a Backend that a ProcessGroup
// dispatches to, one per device type. Members added later (group names, TCPStore's libuv server, the
// Reducer's extra constructor arguments) are detected by what the types offer.
#ifdef TKD_C10D

/** Names the group and its backends as Python's _new_process_group_helper does (where c10d has names). */
template <class P>
void nameGroup(P& pg, const std::string& name, const std::string& desc) {
  if constexpr (requires { pg.setGroupName(name); }) pg.setGroupName(name);
  if constexpr (requires { pg.setGroupDesc(desc); }) pg.setGroupDesc(desc);
}

/** Backend options' group identity (global ranks, name), where the options carry them. */
template <class O>
void setBackendIdentity(O& options, const std::vector<uint64_t>& globalRanks, const std::string& name) {
  if constexpr (requires { options.global_ranks_in_group = globalRanks; }) options.global_ranks_in_group = globalRanks;
  if constexpr (requires { options.group_name = name; }) options.group_name = name;
}

/** TCPStore's libuv server (Python's default from 2.4), where this libtorch has it. */
template <class O>
void setUseLibuv(O& options, bool useLibuv) {
  if constexpr (requires { options.useLibUV = useLibuv; }) options.useLibUV = useLibuv;
}

/**
 * The group Python builds for one backend (gloo: for CPU and CUDA tensors; nccl: for CUDA tensors): from 2.0
 * a ProcessGroup over `pgStore` that dispatches to `backend`, which was built on the group's device prefix.
 */
template <class B, class PG = c10d::ProcessGroup>
c10::intrusive_ptr<PG> groupOf(const c10::intrusive_ptr<c10d::Store>& pgStore, int rank, int size,
                               const c10::intrusive_ptr<B>& backend, bool nccl) {
#if TKD_TORCH_AT_LEAST(2, 0)
  c10::intrusive_ptr<PG> pg;
  if constexpr (std::is_constructible_v<PG, c10::intrusive_ptr<c10d::Store>, int, int>) {
    pg = c10::make_intrusive<PG>(pgStore, rank, size);
  } else {
    pg = c10::make_intrusive<PG>(pgStore, rank, size, c10::make_intrusive<typename PG::Options>(backend->getBackendName()));
  }
  auto type = nccl ? PG::BackendType::NCCL : PG::BackendType::GLOO;
  pg->setDefaultBackend(type);
  if (!nccl) pg->setBackend(c10::kCPU, type, backend);
  pg->setBackend(c10::kCUDA, type, backend);
  return pg;
#else
  return backend;  // a ProcessGroup already
#endif
}

/** PyTorch's DDP Reducer, built with the arguments Python's DistributedDataParallel passes. */
template <class R = c10d::Reducer>
std::shared_ptr<R> makeReducer(std::vector<at::Tensor> params, std::vector<std::vector<size_t>> buckets,
                                           std::vector<size_t> perBucketLimits,
                                           c10::intrusive_ptr<c10d::ProcessGroup> pg, std::vector<bool> sparse,
                                           int64_t bucketBytesCap, bool findUnused, bool gradientAsBucketView,
                                           std::unordered_map<size_t, std::string> names, int64_t firstBucketBytesCap) {
  using Params = std::vector<at::Tensor>;
  using Buckets = std::vector<std::vector<size_t>>;
  using Pg = c10::intrusive_ptr<c10d::ProcessGroup>;
  using Names = std::unordered_map<size_t, std::string>;
  if constexpr (std::is_constructible_v<R, Params, Buckets, Pg, std::vector<bool>, int64_t, bool, bool, Names, int64_t,
                                        bool, bool, std::vector<int64_t>>) {
    // 2.13, 2.14: skip_all_reduce_unused_params, use_python_reducer, bucket_bytes_cap_list (all off).
    return std::make_shared<R>(std::move(params), std::move(buckets), std::move(pg), std::move(sparse), bucketBytesCap,
                               findUnused, gradientAsBucketView, std::move(names), firstBucketBytesCap, false, false,
                               std::vector<int64_t>{});
  } else if constexpr (std::is_constructible_v<R, Params, Buckets, Pg, std::vector<bool>, int64_t, bool, bool, Names,
                                               int64_t, bool, bool>) {
    return std::make_shared<R>(std::move(params), std::move(buckets), std::move(pg), std::move(sparse), bucketBytesCap,
                               findUnused, gradientAsBucketView, std::move(names), firstBucketBytesCap, false, false);
  } else {
    // 1.13 and the 2.x releases that still take the per-bucket size limits.
    return std::make_shared<R>(std::move(params), std::move(buckets), std::move(perBucketLimits), std::move(pg),
                               std::move(sparse), bucketBytesCap, findUnused, gradientAsBucketView, std::move(names),
                               firstBucketBytesCap);
  }
}

// The single-tensor collectives were underscored (_allgather_base, _reduce_scatter_base, alltoall_base)
// until 2.13 renamed them; the old names remain there as deprecated aliases.

template <class P>
c10::intrusive_ptr<c10d::Work> allGatherIntoTensor(P& pg, at::Tensor& out, at::Tensor& in) {
  if constexpr (requires { pg.all_gather_single(out, in); }) return pg.all_gather_single(out, in);
  else return pg._allgather_base(out, in);
}

template <class P, class O>
c10::intrusive_ptr<c10d::Work> reduceScatterTensor(P& pg, at::Tensor& out, at::Tensor& in, const O& opts) {
  if constexpr (requires { pg.reduce_scatter_single(out, in, opts); }) return pg.reduce_scatter_single(out, in, opts);
  else return pg._reduce_scatter_base(out, in, opts);
}

template <class P>
c10::intrusive_ptr<c10d::Work> allToAllSingle(P& pg, at::Tensor& out, at::Tensor& in, std::vector<int64_t>& outSplits,
                                              std::vector<int64_t>& inSplits) {
  if constexpr (requires { pg.all_to_all_single(out, in, outSplits, inSplits); }) {
    return pg.all_to_all_single(out, in, outSplits, inSplits);
  } else {
    return pg.alltoall_base(out, in, outSplits, inSplits);
  }
}

#endif  // TKD_C10D

}  // namespace compat
}  // namespace tkd
