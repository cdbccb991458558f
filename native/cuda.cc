// torch.cuda: availability, devices, synchronisation and the caching allocator's statistics.
// The allocator calls need CUDA headers, so they exist only in builds against a CUDA libtorch
// (TORCHKD_CUDA, set by the build when libtorch_cuda is found); elsewhere they throw as PyTorch does.
#include "torchkd.h"

#include <torch/cuda.h>

#ifdef TORCHKD_CUDA
// Narrow headers on purpose: ATen/cuda/CUDAContext.h would also need cuBLAS and cuSPARSE headers, which a
// CUDA wheel keeps apart from the toolkit.
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

namespace tkd {
namespace {

[[noreturn]] void noCuda() { throw std::runtime_error("Torch not compiled with CUDA enabled"); }

int64_t deviceIndex(Ctx& c, size_t i) {
  int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (count == 0) noCuda();
  if (c.isNullish(i)) return static_cast<int64_t>(c10::Device(c10::kCUDA, 0).index());
  int64_t d = c.int64(i);
  if (d < 0 || d >= count) {
    throw ArgError("CUDA device " + std::to_string(d) + " does not exist (" + std::to_string(count) +
                   " available)");
  }
  return d;
}

napi_value IsAvailable(Ctx& c) { return c.retBool(torch::cuda::is_available()); }
napi_value DeviceCount(Ctx& c) { return c.ret(static_cast<double>(torch::cuda::device_count())); }

napi_value Synchronize(Ctx& c) {
  torch::cuda::synchronize(deviceIndex(c, 0));
  return c.undefined();
}

#ifdef TORCHKD_CUDA
// Index 0 of each statistic array is the aggregate over pool types, in every libtorch version.
napi_value MemoryAllocated(Ctx& c) {
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(deviceIndex(c, 0)));
  return c.ret(static_cast<double>(stats.allocated_bytes[0].current));
}
napi_value MemoryReserved(Ctx& c) {
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(deviceIndex(c, 0)));
  return c.ret(static_cast<double>(stats.reserved_bytes[0].current));
}
napi_value EmptyCache(Ctx& c) {
  if (torch::cuda::device_count() == 0) noCuda();
  c10::cuda::CUDACachingAllocator::emptyCache();
  return c.undefined();
}
napi_value DeviceName(Ctx& c) {
  cudaDeviceProp props;
  cudaError_t err = cudaGetDeviceProperties(&props, static_cast<int>(deviceIndex(c, 0)));
  if (err != cudaSuccess) throw std::runtime_error(std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(err));
  return c.retString(props.name);
}
#else
napi_value MemoryAllocated(Ctx&) { noCuda(); }
napi_value MemoryReserved(Ctx&) { noCuda(); }
napi_value EmptyCache(Ctx&) { noCuda(); }
napi_value DeviceName(Ctx&) { noCuda(); }
#endif

}  // namespace

void registerCuda(Registrar& r) {
  r.def("cudaIsAvailable", Entry<IsAvailable>);
  r.def("cudaDeviceCount", Entry<DeviceCount>);
  r.def("cudaSynchronize", Entry<Synchronize>, {"device"});
  r.def("cudaMemoryAllocated", Entry<MemoryAllocated>, {"device"});
  r.def("cudaMemoryReserved", Entry<MemoryReserved>, {"device"});
  r.def("cudaEmptyCache", Entry<EmptyCache>);
  r.def("cudaDeviceName", Entry<DeviceName>, {"device"});
}

}  // namespace tkd
