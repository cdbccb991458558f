// Slot table, argument readers, error conversion, module init, and the tensor core:
// creation, metadata, conversion, read-back, seeding and build facts.
#include "torchkd.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

namespace tkd {

// ---------------------------------------------------------------------------------------------- slot table

namespace {
// External memory is reported to V8 in batches: one napi call per this many bytes of churn.
constexpr int64_t kExternalReportBytes = 4 << 20;
}  // namespace

double Instance::put(napi_env env, at::Tensor t) {
  uint32_t index;
  if (!freeSlots.empty()) {
    index = freeSlots.back();
    freeSlots.pop_back();
  } else {
    if (slots.size() > static_cast<size_t>(kSlotMask)) throw std::runtime_error("too many live tensors (16M)");
    index = static_cast<uint32_t>(slots.size());
    slots.emplace_back();
  }
  Slot& s = slots[index];
  s.bytes = t.defined() ? static_cast<int64_t>(t.nbytes()) : 0;
  s.tensor = std::move(t);
  s.live = true;
  liveTensors++;
  liveBytes += s.bytes;
  return static_cast<double>((static_cast<int64_t>(s.gen) << kSlotBits) | index);
}

at::Tensor* Instance::find(int64_t handle) {
  if (handle < 0) return nullptr;
  int64_t index = handle & kSlotMask;
  if (index >= static_cast<int64_t>(slots.size())) return nullptr;
  Slot& s = slots[index];
  if (!s.live || s.gen != static_cast<uint32_t>(handle >> kSlotBits)) return nullptr;
  return &s.tensor;
}

bool Instance::release(napi_env env, int64_t handle) {
  if (find(handle) == nullptr) return false;
  Slot& s = slots[handle & kSlotMask];
  s.tensor.reset();
  s.live = false;
  s.gen = (s.gen + 1) & kGenMask;
  liveTensors--;
  liveBytes -= s.bytes;
  if (s.reported) reportExternal(env, -s.bytes);
  s.reported = false;
  s.bytes = 0;
  freeSlots.push_back(static_cast<uint32_t>(handle & kSlotMask));
  return true;
}

void Instance::reportToGc(napi_env env, int64_t handle) {
  if (find(handle) == nullptr) return;
  Slot& s = slots[handle & kSlotMask];
  if (s.reported) return;
  s.reported = true;
  reportExternal(env, s.bytes);
}

void Instance::reportExternal(napi_env env, int64_t delta) {
  pendingExternal += delta;
  if (pendingExternal > kExternalReportBytes || pendingExternal < -kExternalReportBytes) {
    int64_t total;
    napi_adjust_external_memory(env, pendingExternal, &total);
    pendingExternal = 0;
  }
}

// ------------------------------------------------------------------------------------------- descriptions

const char* dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kByte: return "uint8";
    case at::kChar: return "int8";
    case at::kShort: return "int16";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kHalf: return "float16";
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kComplexFloat: return "complex64";
    case at::kComplexDouble: return "complex128";
    case at::kBool: return "bool";
    case at::kBFloat16: return "bfloat16";
    default: return c10::toString(t);
  }
}

std::string describe(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream o;
  o << dtypeName(t.scalar_type()) << "[";
  auto sizes = t.sizes();
  for (size_t i = 0; i < sizes.size(); i++) o << (i ? ", " : "") << sizes[i];
  o << "] on " << t.device().str();
  return o.str();
}

// ---------------------------------------------------------------------------------------- argument reading

Ctx::Ctx(napi_env e, napi_callback_info info) : env(e) {
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  if (argc > kMaxArgs) argc = kMaxArgs;
  op = static_cast<OpInfo*>(data);
  inst = op->instance;
}

std::string Ctx::argName(size_t i) const {
  if (i < op->argNames.size()) return "'" + op->argNames[i] + "'";
  return "#" + std::to_string(i);
}

napi_valuetype Ctx::type(size_t i) const {
  napi_valuetype t = napi_undefined;
  if (i < argc) napi_typeof(env, argv[i], &t);
  return t;
}

bool Ctx::isNullish(size_t i) const {
  napi_valuetype t = type(i);
  return t == napi_undefined || t == napi_null;
}

static const char* typeName(napi_valuetype t) {
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
  }
  return "unknown";
}

// Handles arrive as doubles; NaN or fractions (which napi_get_value_int64 would coerce) map to -1.
static bool readHandle(napi_env env, napi_value v, int64_t* handle) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  *handle = (d >= 0 && d <= 9007199254740991.0 && std::floor(d) == d) ? static_cast<int64_t>(d) : -1;
  return true;
}

at::Tensor& Ctx::tensor(size_t i) {
  int64_t handle;
  if (i >= argc || !readHandle(env, argv[i], &handle)) {
    throw ArgError("argument " + argName(i) + " must be a Tensor, got " + typeName(type(i)));
  }
  at::Tensor* t = inst->find(handle);
  if (t == nullptr) {
    throw ArgError("argument " + argName(i) + " is a disposed tensor (it was freed by dispose() or tidy())");
  }
  if (nTensorArgs < kMaxArgs) tensorArgs[nTensorArgs++] = static_cast<uint8_t>(i);
  if (t->requires_grad()) gradNeeded = true;
  return *t;
}

double Ctx::number(size_t i) {
  double v;
  if (i >= argc || napi_get_value_double(env, argv[i], &v) != napi_ok) {
    throw ArgError("argument " + argName(i) + " must be a number, got " + typeName(type(i)));
  }
  return v;
}

int64_t Ctx::int64(size_t i) {
  double v = number(i);
  if (!std::isfinite(v) || std::floor(v) != v || std::fabs(v) > 9007199254740992.0) {
    std::ostringstream o;
    o << "argument " << argName(i) << " must be an integer, got " << v;
    throw ArgError(o.str());
  }
  return static_cast<int64_t>(v);
}

bool Ctx::boolean(size_t i) {
  bool v;
  if (i >= argc || napi_get_value_bool(env, argv[i], &v) != napi_ok) {
    throw ArgError("argument " + argName(i) + " must be a boolean, got " + typeName(type(i)));
  }
  return v;
}

std::string Ctx::string(size_t i) {
  size_t len;
  if (i >= argc || napi_get_value_string_utf8(env, argv[i], nullptr, 0, &len) != napi_ok) {
    throw ArgError("argument " + argName(i) + " must be a string, got " + typeName(type(i)));
  }
  std::string s(len, '\0');
  napi_get_value_string_utf8(env, argv[i], &s[0], len + 1, &len);
  return s;
}

// The elements of array argument i, each converted by read(element, &out) (false: not of the kind).
template <class T, class Read>
std::vector<T> readArray(Ctx& c, size_t i, const char* what, Read read) {
  bool isArray = false;
  if (i < c.argc) napi_is_array(c.env, c.argv[i], &isArray);
  if (!isArray) throw ArgError("argument " + c.argName(i) + " must be " + what + ", got " + typeName(c.type(i)));
  uint32_t n;
  napi_get_array_length(c.env, c.argv[i], &n);
  std::vector<T> out(n);
  for (uint32_t k = 0; k < n; k++) {
    napi_value el;
    napi_get_element(c.env, c.argv[i], k, &el);
    if (!read(el, &out[k])) {
      throw ArgError("argument " + c.argName(i) + " must be " + what + " (element " + std::to_string(k) + " is not)");
    }
  }
  return out;
}

std::vector<int64_t> Ctx::intList(size_t i) {
  return readArray<int64_t>(*this, i, "an array of integers", [&](napi_value el, int64_t* out) {
    double v;
    if (napi_get_value_double(env, el, &v) != napi_ok || !std::isfinite(v) || std::floor(v) != v ||
        std::fabs(v) > 9007199254740992.0) {
      return false;
    }
    *out = static_cast<int64_t>(v);
    return true;
  });
}

// A number or an array of numbers.
std::vector<double> Ctx::doubleList(size_t i) {
  if (type(i) == napi_number) return {number(i)};
  return readArray<double>(*this, i, "a number or an array of numbers",
                           [&](napi_value el, double* out) { return napi_get_value_double(env, el, out) == napi_ok; });
}

std::vector<at::Tensor> Ctx::tensorList(size_t i) {
  return readArray<at::Tensor>(*this, i, "an array of live Tensors", [&](napi_value el, at::Tensor* out) {
    int64_t handle;
    at::Tensor* t = readHandle(env, el, &handle) ? inst->find(handle) : nullptr;
    if (t == nullptr) return false;
    if (t->requires_grad()) gradNeeded = true;
    *out = *t;
    return true;
  });
}

// JS numbers that are integers become integral Scalars (like Python ints), others floating (Python floats).
at::Scalar Ctx::scalar(size_t i) {
  napi_valuetype t = type(i);
  if (t == napi_boolean) return at::Scalar(boolean(i));
  if (t == napi_number) {
    double v = number(i);
    if (std::isfinite(v) && std::floor(v) == v && std::fabs(v) <= 9007199254740992.0) {
      return at::Scalar(static_cast<int64_t>(v));
    }
    return at::Scalar(v);
  }
  if (t == napi_bigint) {
    int64_t v;
    bool lossless;
    napi_get_value_bigint_int64(env, argv[i], &v, &lossless);
    if (!lossless) throw ArgError("argument " + argName(i) + " does not fit in int64");
    return at::Scalar(v);
  }
  throw ArgError("argument " + argName(i) + " must be a number, got " + typeName(t));
}

at::ScalarType Ctx::dtype(size_t i) {
  int64_t code = int64(i);
  switch (static_cast<at::ScalarType>(code)) {
    case at::kByte: case at::kChar: case at::kShort: case at::kInt: case at::kLong: case at::kHalf:
    case at::kFloat: case at::kDouble: case at::kComplexFloat: case at::kComplexDouble: case at::kBool:
    case at::kBFloat16:
      return static_cast<at::ScalarType>(code);
    default:
      throw ArgError("argument " + argName(i) + " is not a supported dtype code: " + std::to_string(code));
  }
}

c10::optional<at::ScalarType> Ctx::optDtype(size_t i) {
  if (isNullish(i)) return c10::nullopt;
  return dtype(i);
}

at::Device Ctx::device(size_t i) {
  if (isNullish(i)) return at::Device(at::kCPU);
  std::string s = string(i);
  // c10::Device parses "cpu", "cuda", "cuda:1", ...; the JS layer has already restricted the names.
  return at::Device(s);
}

int64_t Ctx::dim(size_t i, int64_t rank) {
  int64_t d = int64(i);
  int64_t lo = rank == 0 ? -1 : -rank, hi = rank == 0 ? 0 : rank - 1;
  if (d < lo || d > hi) {
    throw ArgError("Dimension out of range (expected to be in range of [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "], but got " + std::to_string(d) + ")");
  }
  return d < 0 ? d + (rank == 0 ? 1 : rank) : d;
}

// --------------------------------------------------------------------------------------------- returning

napi_value Ctx::ret(at::Tensor t) {
  if (!t.defined()) return null();
  napi_value v;
  napi_create_double(env, inst->put(env, std::move(t)), &v);
  return v;
}

napi_value Ctx::ret(double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

napi_value Ctx::retBool(bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

napi_value Ctx::retString(const std::string& s) {
  napi_value v;
  napi_create_string_utf8(env, s.data(), s.size(), &v);
  return v;
}

napi_value Ctx::retIntList(at::IntArrayRef list) {
  napi_value arr;
  napi_create_array_with_length(env, list.size(), &arr);
  for (size_t k = 0; k < list.size(); k++) {
    napi_value el;
    napi_create_double(env, static_cast<double>(list[k]), &el);
    napi_set_element(env, arr, static_cast<uint32_t>(k), el);
  }
  return arr;
}

napi_value Ctx::retList(const std::vector<at::Tensor>& tensors) {
  napi_value arr;
  napi_create_array_with_length(env, tensors.size(), &arr);
  for (size_t k = 0; k < tensors.size(); k++) napi_set_element(env, arr, static_cast<uint32_t>(k), ret(tensors[k]));
  return arr;
}

napi_value Ctx::undefined() {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

napi_value Ctx::null() {
  napi_value v;
  napi_get_null(env, &v);
  return v;
}

void Ctx::throwError(const std::string& message, const char* code) {
  std::string text = std::string(op->name) + "(): " + message;
  if (nTensorArgs > 0) {
    // C++ leaves argument evaluation order open, so the readers may have recorded them in any order.
    std::sort(tensorArgs, tensorArgs + nTensorArgs);
    text += " (";
    for (size_t k = 0; k < nTensorArgs; k++) {
      size_t i = tensorArgs[k];
      int64_t handle = -1;
      readHandle(env, argv[i], &handle);
      at::Tensor* t = inst->find(handle);
      text += (k ? ", " : "") + (i < op->argNames.size() ? op->argNames[i] : "#" + std::to_string(i)) + ": " +
              (t ? describe(*t) : "disposed");
    }
    text += ")";
  }
  napi_value msg, err, codeValue, opName;
  napi_create_string_utf8(env, text.data(), text.size(), &msg);
  napi_value ctor = nullptr;
  if (inst->errorClass) napi_get_reference_value(env, inst->errorClass, &ctor);
  if (ctor == nullptr || napi_new_instance(env, ctor, 1, &msg, &err) != napi_ok) {
    napi_create_error(env, nullptr, msg, &err);
  }
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &codeValue);
  napi_set_named_property(env, err, "code", codeValue);
  napi_create_string_utf8(env, op->name, NAPI_AUTO_LENGTH, &opName);
  napi_set_named_property(env, err, "op", opName);
  napi_throw(env, err);
}

void Registrar::def(const char* name, napi_callback cb, std::vector<std::string> argNames,
                    const char* displayName) {
  inst_->ops.push_back(std::make_unique<OpInfo>(OpInfo{displayName ? displayName : name, std::move(argNames), inst_}));
  napi_value fn;
  napi_create_function(env_, name, NAPI_AUTO_LENGTH, cb, inst_->ops.back().get(), &fn);
  napi_set_named_property(env_, exports_, name, fn);
}

// ------------------------------------------------------------------------------------ memory and handles

namespace {

napi_value Free(Ctx& c) {
  int64_t handle;
  if (!readHandle(c.env, c.argv[0], &handle)) throw ArgError("handle must be a number");
  return c.retBool(c.inst->release(c.env, handle));
}

// Calls fn(handle) for each valid handle in argument 0, a Float64Array (junk entries are skipped).
template <class F>
void forEachHandle(Ctx& c, F fn) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  if (napi_get_typedarray_info(c.env, c.argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array) {
    throw ArgError("handles must be a Float64Array");
  }
  const double* handles = static_cast<const double*>(data);
  for (size_t k = 0; k < length; k++) {
    double d = handles[k];
    if (d >= 0 && d <= 9007199254740991.0 && std::floor(d) == d) fn(static_cast<int64_t>(d));
  }
}

// Frees a batch of handles (tidy scopes end with one call).
napi_value FreeMany(Ctx& c) {
  forEachHandle(c, [&](int64_t h) { c.inst->release(c.env, h); });
  return c.undefined();
}

// Hands a batch of handles to the GC's accounting: see Instance::reportToGc.
napi_value ReportToGc(Ctx& c) {
  forEachHandle(c, [&](int64_t h) { c.inst->reportToGc(c.env, h); });
  return c.undefined();
}

napi_value IsLive(Ctx& c) {
  int64_t handle;
  if (!readHandle(c.env, c.argv[0], &handle)) return c.retBool(false);
  return c.retBool(c.inst->find(handle) != nullptr);
}

napi_value Memory(Ctx& c) {
  napi_value obj;
  napi_create_object(c.env, &obj);
  napi_set_named_property(c.env, obj, "tensors", c.ret(static_cast<double>(c.inst->liveTensors)));
  napi_set_named_property(c.env, obj, "bytes", c.ret(static_cast<double>(c.inst->liveBytes)));
  return obj;
}

napi_value SetErrorClass(Ctx& c) {
  if (c.inst->errorClass) napi_delete_reference(c.env, c.inst->errorClass);
  napi_create_reference(c.env, c.argv[0], 1, &c.inst->errorClass);
  return c.undefined();
}

// -------------------------------------------------------------------------------------------- metadata

napi_value Shape(Ctx& c) { return c.retIntList(c.tensor(0).sizes()); }
napi_value Stride(Ctx& c) { return c.retIntList(c.tensor(0).strides()); }
napi_value Dtype(Ctx& c) { return c.ret(static_cast<double>(c.tensor(0).scalar_type())); }
napi_value DeviceOf(Ctx& c) { return c.retString(c.tensor(0).device().str()); }
napi_value Numel(Ctx& c) { return c.ret(static_cast<double>(c.tensor(0).numel())); }
napi_value Dim(Ctx& c) { return c.ret(static_cast<double>(c.tensor(0).dim())); }
napi_value RequiresGrad(Ctx& c) { return c.retBool(c.tensor(0).requires_grad()); }
napi_value IsContiguous(Ctx& c) { return c.retBool(c.tensor(0).is_contiguous()); }

// variableData(self): PyTorch's t.data, the same storage without autograd history (variable_data()).
napi_value VariableData(Ctx& c) { return c.ret(c.tensor(0).variable_data()); }

// setData(self, other): PyTorch's `t.data = other`: t keeps its identity and autograd flags, and takes
// other's storage, shape and dtype (Variable::set_data).
napi_value SetData(Ctx& c) {
  at::Tensor& t = c.tensor(0);
  t.set_data(c.tensor(1));
  return c.undefined();
}

napi_value SetRequiresGrad(Ctx& c) {
  at::Tensor& t = c.tensor(0);
  bool flag = c.boolean(1);
  if (flag && !(at::isFloatingType(t.scalar_type()) || at::isComplexType(t.scalar_type()))) {
    throw ArgError("only Tensors of floating point and complex dtype can require gradients");
  }
  t.set_requires_grad(flag);
  return c.undefined();
}

// ------------------------------------------------------------------------------------------- creation

at::TensorOptions options(Ctx& c, size_t dtypeArg, size_t deviceArg) {
  at::TensorOptions o = at::TensorOptions().device(c.device(deviceArg));
  if (!c.isNullish(dtypeArg)) o = o.dtype(c.dtype(dtypeArg));
  return o;
}

at::Tensor finish(Ctx& c, at::Tensor t, size_t requiresGradArg) {
  if (!c.isNullish(requiresGradArg) && c.boolean(requiresGradArg)) t.set_requires_grad(true);
  return t;
}

// Element types a TypedArray may carry, with the dtype its bytes are read as.
at::ScalarType typedArrayDtype(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return at::kChar;
    case napi_uint8_array: case napi_uint8_clamped_array: return at::kByte;
    case napi_int16_array: return at::kShort;
    case napi_int32_array: return at::kInt;
    case napi_float32_array: return at::kFloat;
    case napi_float64_array: return at::kDouble;
    case napi_bigint64_array: return at::kLong;
    default: throw ArgError("unsupported TypedArray type (use Int8/Uint8/Int16/Int32/Float32/Float64/BigInt64)");
  }
}

// fromTypedArray(data, shape, srcDtype, dtype, device, requiresGrad): copies the array's elements, read as
// srcDtype (which may reinterpret the bytes, e.g. Uint8Array as bool, Float32Array pairs as complex64).
napi_value FromTypedArray(Ctx& c) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  if (napi_get_typedarray_info(c.env, c.argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok) {
    throw ArgError("data must be a TypedArray");
  }
  at::ScalarType arrayType = typedArrayDtype(type);
  std::vector<int64_t> shape = c.intList(1);
  at::ScalarType src = c.dtype(2);
  at::ScalarType dst = c.dtype(3);
  int64_t numel = 1;
  for (int64_t s : shape) {
    if (s < 0) throw ArgError("shape entries must be non-negative");
    numel *= s;
  }
  size_t bytes = length * at::elementSize(arrayType);
  if (static_cast<size_t>(numel) * at::elementSize(src) != bytes) {
    throw ArgError("data has " + std::to_string(length) + " elements, which does not match shape of " +
                   std::to_string(numel) + " " + dtypeName(src) + " elements");
  }
  at::Tensor view = at::from_blob(data, shape, at::TensorOptions().dtype(src));
  at::Tensor t = view.to(c.device(4), dst, /*non_blocking=*/false, /*copy=*/true);
  return c.ret(finish(c, t, 5));
}

// Shaped creation functions: (shape, dtype, device, requiresGrad).
napi_value Empty(Ctx& c) { return c.ret(finish(c, at::empty(c.intList(0), options(c, 1, 2)), 3)); }
napi_value Zeros(Ctx& c) { return c.ret(finish(c, at::zeros(c.intList(0), options(c, 1, 2)), 3)); }
napi_value Ones(Ctx& c) { return c.ret(finish(c, at::ones(c.intList(0), options(c, 1, 2)), 3)); }

// full(shape, value, dtype, device, requiresGrad); without dtype, PyTorch infers it from the value.
napi_value Full(Ctx& c) {
  return c.ret(finish(c, at::full(c.intList(0), c.scalar(1), options(c, 2, 3)), 4));
}

// eye(n, m, dtype, device, requiresGrad)
napi_value Eye(Ctx& c) {
  int64_t n = c.int64(0);
  at::TensorOptions o = options(c, 2, 3);
  at::Tensor t = c.isNullish(1) ? at::eye(n, o) : at::eye(n, c.int64(1), o);
  return c.ret(finish(c, t, 4));
}

// arange(start, end, step, dtype, device, requiresGrad)
napi_value Arange(Ctx& c) {
  return c.ret(finish(c, at::arange(c.scalar(0), c.scalar(1), c.scalar(2), options(c, 3, 4)), 5));
}

// linspace(start, end, steps, dtype, device, requiresGrad)
napi_value Linspace(Ctx& c) {
  return c.ret(finish(c, at::linspace(c.scalar(0), c.scalar(1), c.int64(2), options(c, 3, 4)), 5));
}

// ------------------------------------------------------------------------------------ torch.Generator
// A JS torch.Generator holds an external owning an at::Generator handle (the default generators share
// their impl with libtorch's), type-tagged so that no other external passes for one, freed by the GC.

namespace {
const napi_type_tag kGeneratorTag = {0x6b1f2c9d4e3a5b70ULL, 0x91c4d2e8f07a3b16ULL};

c10::optional<at::Generator> optGenerator(Ctx& c, size_t i) {
  if (c.isNullish(i)) return c10::nullopt;
  return generatorArg(c, i);
}

// A 64-bit integer from a JS number (a safe integer) or a BigInt in [min, max] (as int64 or uint64 bits).
uint64_t int64Bits(Ctx& c, size_t i, bool allowUnsigned) {
  if (c.type(i) == napi_bigint) {
    int sign = 0;
    size_t words = 2;
    uint64_t w[2] = {0, 0};
    napi_get_value_bigint_words(c.env, c.argv[i], &sign, &words, w);
    bool fits = words <= 1 && (sign == 0 ? (allowUnsigned || w[0] <= uint64_t(INT64_MAX))
                                         : w[0] <= uint64_t(INT64_MAX) + 1);
    if (!fits) {
      throw ArgError("argument " + c.argName(i) + " is out of range for " + (allowUnsigned ? "a 64-bit seed" : "int64"));
    }
    return sign == 0 ? w[0] : ~w[0] + 1;
  }
  return static_cast<uint64_t>(c.int64(i));
}
}  // namespace
}  // namespace

at::Generator generatorArg(Ctx& c, size_t i) {
  bool tagged = false;
  void* data = nullptr;
  if (i >= c.argc || c.type(i) != napi_external ||
      napi_check_object_type_tag(c.env, c.argv[i], &kGeneratorTag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(c.env, c.argv[i], &data) != napi_ok) {
    throw ArgError("argument " + c.argName(i) + " must be a torch.Generator");
  }
  return *static_cast<at::Generator*>(data);
}

namespace {

napi_value wrapGenerator(Ctx& c, at::Generator g) {
  auto* owned = new at::Generator(std::move(g));
  napi_value ext;
  napi_status st = napi_create_external(
      c.env, owned, [](napi_env, void* d, void*) { delete static_cast<at::Generator*>(d); }, nullptr, &ext);
  if (st != napi_ok) {
    delete owned;
    throw std::runtime_error("cannot create a generator object");
  }
  napi_type_tag_object(c.env, ext, &kGeneratorTag);
  return ext;
}

// generatorNew(device): a new generator seeded with PyTorch's default seed (67280421310721), as
// torch.Generator(); CPU only.
napi_value GeneratorNew(Ctx& c) {
  at::Device device = c.isNullish(0) ? at::Device(at::kCPU) : c.device(0);
  if (!device.is_cpu()) throw ArgError("only CPU generators can be created (got device " + device.str() + ")");
  return wrapGenerator(c, at::detail::createCPUGenerator());
}

// generatorDefault(device): the default generator of a device (torch.default_generator).
napi_value GeneratorDefault(Ctx& c) {
  at::Device device = c.isNullish(0) ? at::Device(at::kCPU) : c.device(0);
  if (device.is_cuda() && !device.has_index()) device = at::Device(at::kCUDA, 0);
  return wrapGenerator(c, at::globalContext().defaultGenerator(device));
}

// generatorManualSeed(gen, seed): seed a number or a BigInt in [−2^63, 2^64); negative seeds wrap, as in PyTorch.
napi_value GeneratorManualSeed(Ctx& c) {
  at::Generator g = generatorArg(c, 0);
  uint64_t seed = int64Bits(c, 1, true);
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_current_seed(seed);
  return c.undefined();
}

// generatorSeed(gen): reseeds from a non-deterministic source; returns the seed (BigInt).
napi_value GeneratorSeed(Ctx& c) {
  at::Generator g = generatorArg(c, 0);
  uint64_t seed = c10::detail::getNonDeterministicRandom(g.device().is_cuda());
  {
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_current_seed(seed);
  }
  napi_value out;
  napi_create_bigint_uint64(c.env, seed, &out);
  return out;
}

// generatorInitialSeed(gen): the seed it was last seeded with (BigInt).
napi_value GeneratorInitialSeed(Ctx& c) {
  at::Generator g = generatorArg(c, 0);
  napi_value out;
  napi_create_bigint_uint64(c.env, g.current_seed(), &out);
  return out;
}

napi_value GeneratorGetState(Ctx& c) {
  at::Generator g = generatorArg(c, 0);
  std::lock_guard<std::mutex> lock(g.mutex());
  return c.ret(g.get_state());
}

napi_value GeneratorSetState(Ctx& c) {
  at::Generator g = generatorArg(c, 0);
  const at::Tensor& state = c.tensor(1);
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(state);
  return c.undefined();
}

napi_value GeneratorDevice(Ctx& c) {
  return c.retString(generatorArg(c, 0).device().str());
}

// Random creation: (size, dtype, device, requiresGrad, generator).
napi_value Rand(Ctx& c) {
  return c.ret(finish(c, at::rand(c.intList(0), optGenerator(c, 4), options(c, 1, 2)), 3));
}
napi_value Randn(Ctx& c) {
  return c.ret(finish(c, at::randn(c.intList(0), optGenerator(c, 4), options(c, 1, 2)), 3));
}

// randint(low, high, shape, dtype, device, requiresGrad, generator); low and high are numbers or BigInts
// (the whole int64 range); dtype defaults to int64 as in PyTorch.
napi_value Randint(Ctx& c) {
  at::TensorOptions o = options(c, 3, 4);
  if (c.isNullish(3)) o = o.dtype(at::kLong);
  auto low = static_cast<int64_t>(int64Bits(c, 0, false));
  auto high = static_cast<int64_t>(int64Bits(c, 1, false));
  return c.ret(finish(c, at::randint(low, high, c.intList(2), optGenerator(c, 6), o), 5));
}

// randperm(n, dtype, device, requiresGrad, generator)
napi_value Randperm(Ctx& c) {
  at::TensorOptions o = options(c, 1, 2);
  if (c.isNullish(1)) o = o.dtype(at::kLong);
  return c.ret(finish(c, at::randperm(c.int64(0), optGenerator(c, 4), o), 3));
}

// Intra-op and inter-op thread pools (torch.set_num_threads / set_num_interop_threads and the getters).
napi_value SetNumThreads(Ctx& c) {
  int64_t n = c.int64(0);
  if (n <= 0) throw ArgError("set_num_threads expects a positive integer");
  at::set_num_threads(static_cast<int>(n));
  return c.undefined();
}
napi_value GetNumThreads(Ctx& c) { return c.ret(static_cast<double>(at::get_num_threads())); }
napi_value SetNumInteropThreads(Ctx& c) {
  int64_t n = c.int64(0);
  if (n <= 0) throw ArgError("set_num_interop_threads expects a positive integer");
  at::set_num_interop_threads(static_cast<int>(n));
  return c.undefined();
}
napi_value GetNumInteropThreads(Ctx& c) { return c.ret(static_cast<double>(at::get_num_interop_threads())); }

// manualSeed(seed): a number or a BigInt, as generatorManualSeed.
napi_value ManualSeed(Ctx& c) {
  at::manual_seed(int64Bits(c, 0, true));
  return c.undefined();
}

// getRngState(device) / setRngState(state, device): the default generator of a device as a uint8 tensor
// (torch.get_rng_state / torch.cuda.get_rng_state), for checkpoints that resume a run bit for bit.
at::Generator defaultGenerator(Ctx& c, size_t i) {
  at::Device device = c.isNullish(i) ? at::Device(at::kCPU) : c.device(i);
  if (device.is_cuda() && !device.has_index()) device = at::Device(at::kCUDA, 0);
  return at::globalContext().defaultGenerator(device);
}

napi_value GetRngState(Ctx& c) {
  at::Generator gen = defaultGenerator(c, 0);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return c.ret(gen.get_state());
}

napi_value SetRngState(Ctx& c) {
  const at::Tensor& state = c.tensor(0);
  at::Generator gen = defaultGenerator(c, 1);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
  return c.undefined();
}

// ----------------------------------------------------------------------------------------- conversion

// to(t, device | null, dtype | null, nonBlocking, copy)
napi_value To(Ctx& c) {
  at::Tensor& t = c.tensor(0);
  at::Device device = c.isNullish(1) ? t.device() : c.device(1);
  at::ScalarType dtype = c.isNullish(2) ? t.scalar_type() : c.dtype(2);
  bool nonBlocking = !c.isNullish(3) && c.boolean(3);
  bool copy = !c.isNullish(4) && c.boolean(4);
  return c.ret(t.to(device, dtype, nonBlocking, copy));
}

// The dtype data() hands to JS: half precision widens to float32 (JS has no Float16Array in Node 20).
at::ScalarType readableDtype(at::ScalarType t) {
  return (t == at::kHalf || t == at::kBFloat16) ? at::kFloat : t;
}

// Conjugate and negative views are lazy bits on the tensor: materialise them before copying bytes out.
at::Tensor readable(const at::Tensor& t) {
  return t.detach().resolve_conj().resolve_neg().to(at::kCPU, readableDtype(t.scalar_type())).contiguous();
}

// data(t) -> ArrayBuffer with the elements in row-major order (complex interleaved).
napi_value Data(Ctx& c) {
  at::Tensor host = readable(c.tensor(0));
  size_t bytes = host.nbytes();
  void* dst;
  napi_value buffer;
  napi_create_arraybuffer(c.env, bytes, &dst, &buffer);
  if (bytes) std::memcpy(dst, host.data_ptr(), bytes);
  return buffer;
}

// The device-to-host copy of dataAsync runs on the libuv pool, straight into an ArrayBuffer allocated up
// front on the JS thread (no external buffers, so it also works under Electron's V8 sandbox).
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, at::Tensor t, Napi::ArrayBuffer buffer)
      : Napi::AsyncWorker(env, "torchkd.dataAsync"),
        tensor_(std::move(t)),
        dst_(buffer.Data()),
        buffer_(Napi::Persistent(buffer)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      at::Tensor host = readable(tensor_);
      if (host.nbytes()) std::memcpy(dst_, host.data_ptr(), host.nbytes());
    } catch (const c10::Error& e) {
      SetError(std::string("dataAsync(): ") + e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(std::string("dataAsync(): ") + e.what());
    }
    tensor_.reset();
  }
  void OnOK() override { deferred_.Resolve(buffer_.Value()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  at::Tensor tensor_;
  void* dst_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  Napi::Promise::Deferred deferred_;
};

napi_value DataAsync(Ctx& c) {
  const at::Tensor& t = c.tensor(0);
  size_t bytes = static_cast<size_t>(t.numel()) * at::elementSize(readableDtype(t.scalar_type()));
  Napi::Env env(c.env);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  auto* worker = new ReadWorker(env, t, buffer);
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

// item(t) -> number; bool as 0/1. Complex tensors are refused (JS has no complex number type).
napi_value Item(Ctx& c) {
  at::Tensor& t = c.tensor(0);
  if (at::isComplexType(t.scalar_type())) {
    throw ArgError("item() of a complex tensor has no JS number; use toArray() or data() for [re, im]");
  }
  return c.ret(t.item().toDouble());
}

// --------------------------------------------------------------------------------------- build facts

napi_value BuildInfo(Ctx& c) {
  napi_value obj;
  napi_create_object(c.env, &obj);
  auto set = [&](const char* k, napi_value v) { napi_set_named_property(c.env, obj, k, v); };
  set("torchVersion", c.retString(TORCH_VERSION));
  set("napiVersion", c.ret(NAPI_VERSION));
#ifdef TORCHKD_CUDA
  set("cudaBuild", c.retBool(true));
#else
  set("cudaBuild", c.retBool(false));
#endif
  set("hasMKL", c.retBool(at::hasMKL()));
  set("hasOpenMP", c.retBool(at::hasOpenMP()));
  set("hasLAPACK", c.retBool(at::hasLAPACK()));
  set("numThreads", c.ret(at::get_num_threads()));
  set("parallelInfo", c.retString(at::get_parallel_info()));
  return obj;
}

}  // namespace

void registerCore(Registrar& r) {
  r.def("free", Entry<Free>);
  r.def("freeMany", Entry<FreeMany>);
  r.def("isLive", Entry<IsLive>);
  r.def("reportToGc", Entry<ReportToGc>);
  r.def("memory", Entry<Memory>);
  r.def("setErrorClass", Entry<SetErrorClass>);
  r.def("shape", Entry<Shape>, {"self"});
  r.def("stride", Entry<Stride>, {"self"});
  r.def("dtype", Entry<Dtype>, {"self"});
  r.def("device", Entry<DeviceOf>, {"self"});
  r.def("numel", Entry<Numel>, {"self"});
  r.def("dim", Entry<Dim>, {"self"});
  r.def("requiresGrad", Entry<RequiresGrad>, {"self"});
  r.def("isContiguous", Entry<IsContiguous>, {"self"});
  r.def("setRequiresGrad", Entry<SetRequiresGrad>, {"self", "requiresGrad"});
  r.def("fromTypedArray", Entry<FromTypedArray>, {"data", "shape", "srcDtype", "dtype", "device", "requiresGrad"});
  r.def("empty", Entry<Empty>, {"size", "dtype", "device", "requiresGrad"});
  r.def("zeros", Entry<Zeros>, {"size", "dtype", "device", "requiresGrad"});
  r.def("ones", Entry<Ones>, {"size", "dtype", "device", "requiresGrad"});
  r.def("rand", Entry<Rand>, {"size", "dtype", "device", "requiresGrad", "generator"});
  r.def("randn", Entry<Randn>, {"size", "dtype", "device", "requiresGrad", "generator"});
  r.def("full", Entry<Full>, {"size", "fillValue", "dtype", "device", "requiresGrad"});
  r.def("eye", Entry<Eye>, {"n", "m", "dtype", "device", "requiresGrad"});
  r.def("arange", Entry<Arange>, {"start", "end", "step", "dtype", "device", "requiresGrad"});
  r.def("linspace", Entry<Linspace>, {"start", "end", "steps", "dtype", "device", "requiresGrad"});
  r.def("randint", Entry<Randint>, {"low", "high", "size", "dtype", "device", "requiresGrad", "generator"});
  r.def("randperm", Entry<Randperm>, {"n", "dtype", "device", "requiresGrad", "generator"});
  r.def("generatorNew", Entry<GeneratorNew>, {"device"}, "Generator");
  r.def("generatorDefault", Entry<GeneratorDefault>, {"device"}, "Generator");
  r.def("generatorManualSeed", Entry<GeneratorManualSeed>, {"generator", "seed"}, "Generator.manualSeed");
  r.def("generatorSeed", Entry<GeneratorSeed>, {"generator"}, "Generator.seed");
  r.def("generatorInitialSeed", Entry<GeneratorInitialSeed>, {"generator"}, "Generator.initialSeed");
  r.def("generatorGetState", Entry<GeneratorGetState>, {"generator"}, "Generator.getState");
  r.def("generatorSetState", Entry<GeneratorSetState>, {"generator", "newState"}, "Generator.setState");
  r.def("generatorDevice", Entry<GeneratorDevice>, {"generator"}, "Generator.device");
  r.def("manualSeed", Entry<ManualSeed>, {"seed"});
  r.def("setNumThreads", Entry<SetNumThreads>, {"int"});
  r.def("getNumThreads", Entry<GetNumThreads>);
  r.def("setNumInteropThreads", Entry<SetNumInteropThreads>, {"int"});
  r.def("getNumInteropThreads", Entry<GetNumInteropThreads>);
  r.def("getRngState", Entry<GetRngState>, {"device"});
  r.def("setRngState", Entry<SetRngState>, {"newState", "device"});
  r.def("to", Entry<To>, {"self", "device", "dtype", "nonBlocking", "copy"});
  r.def("variableData", Entry<VariableData>, {"self"}, "Tensor.data");
  r.def("setData", Entry<SetData>, {"self", "other"}, "Tensor.data");
  r.def("dataSync", Entry<Data>, {"self"}, "Tensor.dataSync");
  r.def("dataAsync", Entry<DataAsync>, {"self"});
  r.def("item", Entry<Item>, {"self"});
  r.def("buildInfo", Entry<BuildInfo>);
}

}  // namespace tkd

// Context-aware module init: every environment (main thread, each worker) gets its own Instance.
NAPI_MODULE_INIT() {
  auto* inst = new tkd::Instance();
  napi_set_instance_data(
      env, inst, [](napi_env, void* data, void*) { delete static_cast<tkd::Instance*>(data); }, nullptr);
  tkd::Registrar r(env, exports, inst);
  tkd::registerCore(r);
  tkd::registerOps(r);
  tkd::registerCuda(r);
  tkd::registerIndexing(r);
  tkd::registerAmp(r);
  tkd::registerAutograd(r);
  tkd::registerOptim(r);
  tkd::registerIo(r);
  return exports;
}
