// Declarations of the gloo types that PyTorch's c10d headers name (ProcessGroupGloo.hpp). PyTorch's wheels
// and Debian's libtorch-dev link gloo (into libtorch_cpu, or as libgloo0) but ship none of its headers;
// torchkd holds gloo objects only through pointers that libtorch creates, so these declarations suffice;
// the build uses them only where a libtorch has no gloo headers of its own (see CMakeLists.txt, binding.gyp).
#pragma once

#include <chrono>

namespace gloo {

// ProcessGroupGloo::setTimeout (defined in its header) calls this; torchkd never does.
class Context {
 public:
  void setTimeout(std::chrono::milliseconds timeout);
};

}  // namespace gloo
