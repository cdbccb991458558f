// io: raw tensor bytes (for safetensors and torch.save files, whose formats live in TypeScript: lib/io),
// strided views for rebuilding the tensors of torch.save files, and TorchScript modules.
//
// TorchScript modules live in a per-instance table (Instance::jitModules), addressed from JS by a plain
// number (generation * 2^24 + index, as tensor handles), so a disposed module is detected, never reused.
#include "torchkd.h"

#include <torch/script.h>

#include <cmath>
#include <cstring>

namespace tkd {
namespace {

struct ModuleSlot {
  std::unique_ptr<torch::jit::Module> module;
  uint32_t gen = 0;
};

struct ModuleTable {
  std::vector<ModuleSlot> slots;
  std::vector<uint32_t> freeSlots;
};

ModuleTable& table(Ctx& c) {
  if (!c.inst->jitModules) c.inst->jitModules = std::make_shared<ModuleTable>();
  return *static_cast<ModuleTable*>(c.inst->jitModules.get());
}

double putModule(Ctx& c, torch::jit::Module m) {
  ModuleTable& t = table(c);
  uint32_t index;
  if (!t.freeSlots.empty()) {
    index = t.freeSlots.back();
    t.freeSlots.pop_back();
  } else {
    if (t.slots.size() > static_cast<size_t>(kSlotMask)) throw std::runtime_error("too many live modules");
    index = static_cast<uint32_t>(t.slots.size());
    t.slots.emplace_back();
  }
  t.slots[index].module = std::make_unique<torch::jit::Module>(std::move(m));
  return static_cast<double>((static_cast<int64_t>(t.slots[index].gen) << kSlotBits) | index);
}

ModuleSlot* findModule(Ctx& c, size_t arg) {
  double d = c.number(arg);
  if (!(d >= 0 && d <= 9007199254740991.0 && std::floor(d) == d)) return nullptr;
  int64_t h = static_cast<int64_t>(d);
  ModuleTable& t = table(c);
  int64_t index = h & kSlotMask;
  if (index >= static_cast<int64_t>(t.slots.size())) return nullptr;
  ModuleSlot& s = t.slots[index];
  if (!s.module || s.gen != static_cast<uint32_t>(h >> kSlotBits)) return nullptr;
  return &s;
}

torch::jit::Module& module(Ctx& c, size_t arg) {
  ModuleSlot* s = findModule(c, arg);
  if (s == nullptr) throw ArgError("the TorchScript module was disposed");
  return *s->module;
}

// ----------------------------------------------------------------------------------------------- bytes

// rawBytes(t, buffer): fills buffer (allocated by the JS layer, see core.cc's bufferArg) with the elements
// in row-major order, in the tensor's own dtype (float16 and bfloat16 stay 2 bytes, bool 1 byte),
// little-endian as the host.
napi_value RawBytes(Ctx& c) {
  const at::Tensor& t = c.tensor(0);
  size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
  void* dst = bufferArg(c, 1, bytes);
  at::Tensor host = t.detach().resolve_conj().resolve_neg().to(at::kCPU).contiguous();
  if (bytes) std::memcpy(dst, host.data_ptr(), bytes);
  return c.undefined();
}

// asStrided(t, size, stride, offset): a view of t's storage (rebuilding tensors of a torch.save file).
napi_value AsStrided(Ctx& c) {
  at::Tensor& t = c.tensor(0);
  std::vector<int64_t> size = c.intList(1), stride = c.intList(2);
  int64_t offset = c.int64(3);
  if (size.size() != stride.size()) throw ArgError("size and stride differ in length");
  // Bounds against the storage, checked before viewing it (the numbers come from a file).
  int64_t last = offset;
  for (size_t k = 0; k < size.size(); k++) {
    if (size[k] < 0 || stride[k] < 0) throw ArgError("negative size or stride");
    if (size[k] == 0) { last = -1; break; }
    int64_t span;
    if (__builtin_mul_overflow(size[k] - 1, stride[k], &span) || __builtin_add_overflow(last, span, &last)) {
      throw ArgError("size and stride overflow");
    }
  }
  if (offset < 0 || last >= t.numel()) throw ArgError("size, stride and offset reach beyond the storage");
  return c.ret(t.as_strided(size, stride, offset));
}

// ------------------------------------------------------------------------------------- TorchScript

// jitLoad(path, device | null) -> module handle
napi_value JitLoad(Ctx& c) {
  std::string path = c.string(0);
  torch::jit::Module m = c.isNullish(1) ? torch::jit::load(path) : torch::jit::load(path, c.device(1));
  return c.ret(putModule(c, std::move(m)));
}

napi_value JitDispose(Ctx& c) {
  ModuleSlot* s = findModule(c, 0);
  if (s == nullptr) return c.retBool(false);
  s->module.reset();
  s->gen = (s->gen + 1) & kGenMask;
  ModuleTable& t = table(c);
  t.freeSlots.push_back(static_cast<uint32_t>(s - t.slots.data()));
  return c.retBool(true);
}

// A forward result as JS: tensors become handles (numbers), other scalars {__scalar__: v}, tuples and lists
// arrays, dicts with string keys plain objects, None null, bools and strings themselves.
napi_value toJs(Ctx& c, const torch::IValue& v) {
  if (v.isTensor()) return c.ret(v.toTensor());
  if (v.isNone()) return c.null();
  if (v.isBool()) return c.retBool(v.toBool());
  if (v.isString()) return c.retString(v.toStringRef());
  if (v.isInt() || v.isDouble()) {
    napi_value obj;
    napi_create_object(c.env, &obj);
    napi_set_named_property(c.env, obj, "__scalar__", c.ret(v.isInt() ? static_cast<double>(v.toInt()) : v.toDouble()));
    return obj;
  }
  auto array = [&](const std::vector<torch::IValue>& items) {
    napi_value arr;
    napi_create_array_with_length(c.env, items.size(), &arr);
    for (size_t k = 0; k < items.size(); k++) napi_set_element(c.env, arr, static_cast<uint32_t>(k), toJs(c, items[k]));
    return arr;
  };
  if (v.isTuple()) {
    auto elements = v.toTupleRef().elements();
    return array(std::vector<torch::IValue>(elements.begin(), elements.end()));
  }
  if (v.isList()) return array(v.toListRef().vec());
  if (v.isGenericDict()) {
    napi_value obj;
    napi_create_object(c.env, &obj);
    for (const auto& kv : v.toGenericDict()) {
      if (!kv.key().isString()) throw std::runtime_error("forward() returned a dict with non-string keys");
      // Defined, not assigned: a key such as "__proto__" becomes an own property like any other.
      const std::string& key = kv.key().toStringRef();
      napi_property_descriptor d{};
      napi_create_string_utf8(c.env, key.data(), key.size(), &d.name);
      d.value = toJs(c, kv.value());
      d.attributes = static_cast<napi_property_attributes>(napi_writable | napi_enumerable | napi_configurable);
      napi_define_properties(c.env, obj, 1, &d);
    }
    return obj;
  }
  throw std::runtime_error(std::string("forward() returned a value of unsupported type ") + v.tagKind());
}

// jitForward(module, inputs: Handle[]) -> result (see toJs)
napi_value JitForward(Ctx& c) {
  torch::jit::Module& m = module(c, 0);
  std::vector<at::Tensor> inputs = c.tensorList(1);
  std::vector<torch::IValue> args(inputs.begin(), inputs.end());
  torch::IValue out = m.forward(std::move(args));
  return toJs(c, out);
}

// jitNamedTensors(module, kind: 0 parameters | 1 buffers, recurse) -> [[name, handle], ...]
napi_value JitNamedTensors(Ctx& c) {
  torch::jit::Module& m = module(c, 0);
  int64_t kind = c.int64(1);
  bool recurse = c.boolean(2);
  std::vector<std::pair<std::string, at::Tensor>> entries;
  if (kind == 0) {
    for (const auto& p : m.named_parameters(recurse)) entries.emplace_back(p.name, p.value);
  } else {
    for (const auto& p : m.named_buffers(recurse)) entries.emplace_back(p.name, p.value);
  }
  napi_value arr;
  napi_create_array_with_length(c.env, entries.size(), &arr);
  for (size_t k = 0; k < entries.size(); k++) {
    napi_value pair;
    napi_create_array_with_length(c.env, 2, &pair);
    napi_set_element(c.env, pair, 0, c.retString(entries[k].first));
    napi_set_element(c.env, pair, 1, c.ret(entries[k].second));
    napi_set_element(c.env, arr, static_cast<uint32_t>(k), pair);
  }
  return arr;
}

napi_value JitTrain(Ctx& c) {
  module(c, 0).train(c.boolean(1));
  return c.undefined();
}

napi_value JitIsTraining(Ctx& c) { return c.retBool(module(c, 0).is_training()); }

napi_value JitTo(Ctx& c) {
  module(c, 0).to(c.device(1));
  return c.undefined();
}

}  // namespace

void registerIo(Registrar& r) {
  r.def("rawBytes", Entry<RawBytes>, {"self", "buffer"});
  r.def("asStrided", Entry<AsStrided>, {"self", "size", "stride", "offset"}, "io.loadStateDict");
  r.def("jitLoad", Entry<JitLoad>, {"path", "device"}, "io.loadTorchScript");
  r.def("jitDispose", Entry<JitDispose>, {"module"}, "ScriptModule.dispose");
  r.def("jitForward", Entry<JitForward>, {"module", "inputs"}, "ScriptModule.forward");
  r.def("jitNamedTensors", Entry<JitNamedTensors>, {"module", "kind", "recurse"}, "ScriptModule.namedParameters");
  r.def("jitTrain", Entry<JitTrain>, {"module", "mode"}, "ScriptModule.train");
  r.def("jitIsTraining", Entry<JitIsTraining>, {"module"}, "ScriptModule.training");
  r.def("jitTo", Entry<JitTo>, {"module", "device"}, "ScriptModule.to");
}

}  // namespace tkd
