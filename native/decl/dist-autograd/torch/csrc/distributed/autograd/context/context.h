// Declarations of the distributed-autograd types that c10d's reducer.hpp names, for libtorch folders that
// ship reducer.hpp without this header (Debian's libtorch-dev 1.13). The Reducer only holds a shared_ptr to
// a context, so these suffice; the build uses this folder only where the real header is missing (see
// CMakeLists.txt and binding.gyp).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};

using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
