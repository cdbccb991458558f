// Autocast state (torch.autocast): thread-local in ATen, set and restored around a JS function by
// lib/torch/amp.ts. The version differences of the autocast API are in compat.h.
#include "compat.h"
#include "torchkd.h"

#include <ATen/autocast_mode.h>

namespace tkd {
namespace {

at::DeviceType autocastDevice(Ctx& c, size_t i) {
  std::string type = c.string(i);
  if (type == "cpu") return at::kCPU;
  if (type == "cuda") return at::kCUDA;
  throw ArgError("deviceType must be 'cpu' or 'cuda', got '" + type + "'");
}

// autocastState(deviceType) -> [enabled, dtype code]
napi_value State(Ctx& c) {
  at::DeviceType device = autocastDevice(c, 0);
  napi_value arr;
  napi_create_array_with_length(c.env, 2, &arr);
  napi_set_element(c.env, arr, 0, c.retBool(compat::autocastEnabled(device)));
  napi_set_element(c.env, arr, 1, c.ret(static_cast<double>(compat::autocastDtype(device))));
  return arr;
}

// autocastSet(deviceType, enabled, dtype): also counts the nesting, as torch.autocast's __enter__ does.
napi_value Set(Ctx& c) {
  at::DeviceType device = autocastDevice(c, 0);
  bool enabled = c.boolean(1);
  at::ScalarType dtype = c.dtype(2);
  compat::setAutocast(device, enabled, dtype);
  return c.undefined();
}

napi_value Enter(Ctx& c) { return c.ret(static_cast<double>(at::autocast::increment_nesting())); }

// Leaving the outermost autocast region frees the cache of casted weights, as torch.autocast's __exit__.
napi_value Exit(Ctx& c) {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  return c.undefined();
}

}  // namespace

void registerAmp(Registrar& r) {
  r.def("autocastState", Entry<State>, {"deviceType"}, "autocast");
  r.def("autocastSet", Entry<Set>, {"deviceType", "enabled", "dtype"}, "autocast");
  r.def("autocastEnter", Entry<Enter>, {}, "autocast");
  r.def("autocastExit", Entry<Exit>, {}, "autocast");
}

}  // namespace tkd
