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
    index = slots.grow();
  }
  Slot& s = slots[index];
  s.bytes = t.defined() ? static_cast<int64_t>(t.nbytes()) : 0;
  s.tensor = std::move(t);
  s.live = true;
  liveTensors++;
  liveBytes += s.bytes;
  if (allocated) *allocated += static_cast<double>(s.bytes);
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
  if (depth > 1) {
    deferred.push_back(handle);
    return true;
  }
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

void Instance::releaseDeferred(napi_env env) {
  std::vector<int64_t> handles;
  handles.swap(deferred);
  for (int64_t h : handles) release(env, h);
}

void Instance::releaseCollected(napi_env env) {
  if (depth > 1 || closing) return;
  std::vector<int64_t> handles;
  handles.swap(collected);
  for (int64_t h : handles) release(env, h);
}

void Instance::reportExternal(napi_env env, int64_t delta) {
  pendingExternal += delta;
  if (pendingExternal > kExternalReportBytes || pendingExternal < -kExternalReportBytes) {
    int64_t total;
    napi_adjust_external_memory(env, pendingExternal, &total);
    pendingExternal = 0;
  }
}

// Node versions before 20.10 lack node_api_post_finalizer; they also run every finalizer from the event
// loop (not during GC), where releasing at once is safe.
extern "C" napi_status NAPI_CDECL node_api_post_finalizer(node_api_basic_env, napi_finalize, void*, void*)
    __attribute__((weak));

namespace {

// On the event loop, after a GC collected wrappers: nothing of JS is in flight then.
void releaseCollectedLater(napi_env env, void* data, void*) {
  auto* inst = static_cast<Instance*>(data);
  inst->drainPosted = false;
  inst->releaseCollected(env);
}

// A wrapper was garbage-collected: runs inside the GC, so it only queues the handle.
void onCollected(node_api_basic_env env, void* data, void* hint) {
  auto* inst = static_cast<Instance*>(hint);
  if (inst->closing) return;
  inst->collected.push_back(static_cast<int64_t>(reinterpret_cast<uintptr_t>(data)));
  if (inst->drainPosted) return;
  if (node_api_post_finalizer == nullptr) {
    inst->releaseCollected(const_cast<napi_env>(env));
  } else if (node_api_post_finalizer(env, releaseCollectedLater, inst, nullptr) == napi_ok) {
    inst->drainPosted = true;
  }
}

}  // namespace

void Instance::adopt(napi_env env, napi_value objects, const double* handles, size_t n) {
  for (size_t k = 0; k < n; k++) {
    double d = handles[k];
    int64_t h = (d >= 0 && d <= 9007199254740991.0 && std::floor(d) == d) ? static_cast<int64_t>(d) : -1;
    if (find(h) == nullptr) continue;
    Slot& s = slots[h & kSlotMask];
    if (s.reported) continue;
    napi_value obj;
    if (napi_get_element(env, objects, static_cast<uint32_t>(k), &obj) != napi_ok) throw JsPending();
    if (napi_add_finalizer(env, obj, reinterpret_cast<void*>(static_cast<uintptr_t>(h)), onCollected, this, nullptr) !=
        napi_ok) {
      throw ArgError("cannot attach a finalizer to tensor " + std::to_string(k));
    }
    s.reported = true;
    reportExternal(env, s.bytes);
  }
  if (allocated) *allocated = 0;
  releaseCollected(env);
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

void checkJs(napi_env env, napi_status status, const std::string& what) {
  if (status == napi_ok) return;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) throw JsPending();
  throw ArgError("cannot read " + what);
}

void* bufferArg(Ctx& c, size_t i, size_t bytes) {
  void* data = nullptr;
  size_t length = 0;
  bool isBuffer = false;
  if (napi_is_arraybuffer(c.env, c.argv[i], &isBuffer) != napi_ok || !isBuffer ||
      napi_get_arraybuffer_info(c.env, c.argv[i], &data, &length) != napi_ok) {
    throw ArgError("argument " + c.argName(i) + " must be an ArrayBuffer");
  }
  if (length != bytes) {
    throw ArgError("argument " + c.argName(i) + " holds " + std::to_string(length) + " bytes, expected " +
                   std::to_string(bytes));
  }
  return data;
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
  if (napi_get_value_string_utf8(env, argv[i], &s[0], len + 1, &len) != napi_ok) {
    throw ArgError("argument " + argName(i) + " is not a readable string");
  }
  return s;
}

uint32_t Ctx::arrayLength(napi_value v, const std::string& what) {
  bool isArray = false;
  uint32_t n = 0;
  if (v == nullptr || napi_is_array(env, v, &isArray) != napi_ok || !isArray ||
      napi_get_array_length(env, v, &n) != napi_ok) {
    napi_valuetype t = napi_undefined;
    if (v != nullptr) napi_typeof(env, v, &t);
    throw ArgError(what + ", got " + typeName(t));
  }
  return n;
}

napi_value Ctx::element(napi_value array, uint32_t k, const std::string& what) {
  napi_value el = nullptr;
  checkJs(env, napi_get_element(env, array, k, &el), what + " element " + std::to_string(k));
  return el;
}

at::Tensor* Ctx::handleTensor(napi_value v) {
  int64_t handle;
  return readHandle(env, v, &handle) ? inst->find(handle) : nullptr;
}

// The elements of array argument i, each converted by read(element, &out) (false: not of the kind). The
// result grows as elements are read: a huge sparse array fails at its first hole, not in an allocation.
template <class T, class Read>
std::vector<T> readArray(Ctx& c, size_t i, const char* what, Read read) {
  std::string expected = "argument " + c.argName(i) + " must be " + what;
  uint32_t n = c.arrayLength(i < c.argc ? c.argv[i] : nullptr, expected);
  std::vector<T> out;
  out.reserve(std::min<uint32_t>(n, 64));
  for (uint32_t k = 0; k < n; k++) {
    napi_value el = c.element(c.argv[i], k, "argument " + c.argName(i));
    out.emplace_back();
    if (!read(el, &out.back())) throw ArgError(expected + " (element " + std::to_string(k) + " is not)");
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

std::vector<at::Tensor> Ctx::tensorArray(napi_value v, const std::string& what, bool allowNull) {
  uint32_t n = arrayLength(v, what + " must be an array of Tensors");
  // A list with null entries allowed could be a sparse array of 2^32 - 1 holes, read as nulls one by one.
  if (allowNull && n > static_cast<uint32_t>(kSlotMask)) {
    throw ArgError(what + " has " + std::to_string(n) + " entries, more than the 16M tensors that can be live");
  }
  std::vector<at::Tensor> out;
  out.reserve(std::min<uint32_t>(n, 64));
  for (uint32_t k = 0; k < n; k++) {
    napi_value el = element(v, k, what);
    napi_valuetype t = napi_undefined;
    napi_typeof(env, el, &t);
    if (allowNull && (t == napi_null || t == napi_undefined)) {
      out.emplace_back();
      continue;
    }
    at::Tensor* tensor = handleTensor(el);
    if (tensor == nullptr) throw ArgError(what + "[" + std::to_string(k) + "] is not a live Tensor");
    if (tensor->requires_grad()) gradNeeded = true;
    out.push_back(*tensor);
  }
  return out;
}

std::vector<at::Tensor> Ctx::tensorList(size_t i) {
  return tensorArray(i < argc ? argv[i] : nullptr, "argument " + argName(i), false);
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
    bool lossless = false;
    if (napi_get_value_bigint_int64(env, argv[i], &v, &lossless) != napi_ok || !lossless) {
      throw ArgError("argument " + argName(i) + " does not fit in int64");
    }
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
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
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

// Argument i as a Float64Array of handles.
std::pair<const double*, size_t> handleArray(Ctx& c, size_t i) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  if (napi_get_typedarray_info(c.env, c.argv[i], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array) {
    throw ArgError("handles must be a Float64Array");
  }
  return {static_cast<const double*>(data), length};
}

// Frees a batch of handles (tidy scopes end with one call); junk entries are skipped.
napi_value FreeMany(Ctx& c) {
  auto [handles, n] = handleArray(c, 0);
  for (size_t k = 0; k < n; k++) {
    double d = handles[k];
    if (d >= 0 && d <= 9007199254740991.0 && std::floor(d) == d) c.inst->release(c.env, static_cast<int64_t>(d));
  }
  return c.undefined();
}

// setAllocationCounter(counter: Float64Array(1)): see Instance::allocated.
napi_value SetAllocationCounter(Ctx& c) {
  auto [data, n] = handleArray(c, 0);
  if (n != 1) throw ArgError("the counter must be a Float64Array of one element");
  if (c.inst->allocatedRef) napi_delete_reference(c.env, c.inst->allocatedRef);
  checkJs(c.env, napi_create_reference(c.env, c.argv[0], 1, &c.inst->allocatedRef), "the counter");
  c.inst->allocated = const_cast<double*>(data);
  return c.undefined();
}

// adopt(tensors, handles): hands a batch of wrappers to the finalizer net (Instance::adopt).
napi_value Adopt(Ctx& c) {
  auto [handles, n] = handleArray(c, 1);
  if (c.arrayLength(c.argv[0], "tensors must be an array") < n) throw ArgError("fewer tensors than handles");
  c.inst->adopt(c.env, c.argv[0], handles, n);
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
    bool read = napi_get_value_bigint_words(c.env, c.argv[i], &sign, &words, w) == napi_ok;
    bool fits = read && words <= 1 &&
                (sign == 0 ? (allowUnsigned || w[0] <= uint64_t(INT64_MAX)) : w[0] <= uint64_t(INT64_MAX) + 1);
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
  // A generic lambda: it converts to the finalizer type of either header generation (napi_finalize, or
  // node_api_basic_finalize with a const env under NAPI_EXPERIMENTAL in newer headers, as node-gyp has).
  napi_status st = napi_create_external(
      c.env, owned, [](auto, void* d, void*) { delete static_cast<at::Generator*>(d); }, nullptr, &ext);
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
// At most kMaxThreads: OpenMP allocates its team for the count at the next parallel region and ends the
// process (libgomp's "Out of memory allocating") when it cannot, so a count such as 2^31 is refused here.
constexpr int64_t kMaxThreads = 1024;

int64_t threadCount(Ctx& c, const char* what) {
  int64_t n = c.int64(0);
  if (n <= 0 || n > kMaxThreads) {
    throw ArgError(std::string(what) + " expects a positive integer up to " + std::to_string(kMaxThreads) + ", got " +
                   std::to_string(n));
  }
  return n;
}

napi_value SetNumThreads(Ctx& c) {
  at::set_num_threads(static_cast<int>(threadCount(c, "set_num_threads")));
  return c.undefined();
}
napi_value GetNumThreads(Ctx& c) { return c.ret(static_cast<double>(at::get_num_threads())); }
napi_value SetNumInteropThreads(Ctx& c) {
  at::set_num_interop_threads(static_cast<int>(threadCount(c, "set_num_interop_threads")));
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

// Bytes of the elements data() hands to JS.
size_t readableBytes(const at::Tensor& t) {
  return static_cast<size_t>(t.numel()) * at::elementSize(readableDtype(t.scalar_type()));
}

// dataSync(t, buffer): fills buffer with the elements in row-major order (complex interleaved).
napi_value Data(Ctx& c) {
  const at::Tensor& t = c.tensor(0);
  size_t bytes = readableBytes(t);
  void* dst = bufferArg(c, 1, bytes);
  at::Tensor host = readable(t);
  if (bytes) std::memcpy(dst, host.data_ptr(), bytes);
  return c.undefined();
}

// dataAsync(t, buffer) -> Promise<void>: the device-to-host copy runs on the libuv pool, straight into
// buffer. Written against the plain Node-API async work so that nothing can throw at its completion: when
// the environment is torn down meanwhile (a worker terminated or calling process.exit()), the promise is
// simply never settled.
struct ReadWork {
  at::Tensor tensor;
  void* dst = nullptr;
  size_t bytes = 0;
  napi_ref buffer = nullptr;  // keeps the ArrayBuffer alive while the pool writes into it
  napi_deferred deferred = nullptr;
  napi_async_work work = nullptr;
  Instance* inst = nullptr;
  std::string error;
};

void readExecute(napi_env, void* data) {
  auto* w = static_cast<ReadWork*>(data);
  try {
    at::Tensor host = readable(w->tensor);
    if (w->bytes) std::memcpy(w->dst, host.data_ptr(), w->bytes);
  } catch (const c10::Error& e) {
    w->error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    w->error = e.what();
  } catch (...) {
    w->error = "unknown native error";
  }
  w->tensor.reset();
}

void readComplete(napi_env env, napi_status status, void* data) {
  std::unique_ptr<ReadWork> w(static_cast<ReadWork*>(data));
  if (status == napi_ok && !w->inst->closing) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      napi_value result = nullptr;
      if (w->error.empty()) {
        napi_get_undefined(env, &result);
        napi_resolve_deferred(env, w->deferred, result);
      } else {
        std::string text = "dataAsync(): " + w->error;
        napi_value msg, code;
        napi_value ctor = nullptr;
        napi_create_string_utf8(env, text.data(), text.size(), &msg);
        if (w->inst->errorClass) napi_get_reference_value(env, w->inst->errorClass, &ctor);
        if (ctor == nullptr || napi_new_instance(env, ctor, 1, &msg, &result) != napi_ok) {
          napi_create_error(env, nullptr, msg, &result);
        }
        napi_create_string_utf8(env, "ERR_TORCH", NAPI_AUTO_LENGTH, &code);
        napi_set_named_property(env, result, "code", code);
        napi_reject_deferred(env, w->deferred, result);
      }
      napi_close_handle_scope(env, scope);
    }
  }
  if (w->buffer) napi_delete_reference(env, w->buffer);
  napi_delete_async_work(env, w->work);
}

napi_value DataAsync(Ctx& c) {
  auto w = std::make_unique<ReadWork>();
  w->tensor = c.tensor(0);
  w->bytes = readableBytes(w->tensor);
  w->dst = bufferArg(c, 1, w->bytes);
  w->inst = c.inst;
  napi_value promise, name;
  checkJs(c.env, napi_create_reference(c.env, c.argv[1], 1, &w->buffer), "the buffer");
  napi_create_string_utf8(c.env, "torchkd.dataAsync", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(c.env, nullptr, name, readExecute, readComplete, w.get(), &w->work) != napi_ok) {
    napi_delete_reference(c.env, w->buffer);
    throw std::runtime_error("cannot create the async work");
  }
  if (napi_create_promise(c.env, &w->deferred, &promise) != napi_ok || napi_queue_async_work(c.env, w->work) != napi_ok) {
    napi_delete_reference(c.env, w->buffer);
    napi_delete_async_work(c.env, w->work);
    throw std::runtime_error("cannot queue the async work");
  }
  w.release();
  return promise;
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
  r.def("adopt", Entry<Adopt>);
  r.def("setAllocationCounter", Entry<SetAllocationCounter>);
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
  r.def("dataSync", Entry<Data>, {"self", "buffer"}, "Tensor.dataSync");
  r.def("dataAsync", Entry<DataAsync>, {"self", "buffer"});
  r.def("item", Entry<Item>, {"self"});
  r.def("buildInfo", Entry<BuildInfo>);
}

}  // namespace tkd

// Context-aware module init: every environment (main thread, each worker) gets its own Instance.
NAPI_MODULE_INIT() {
  auto* inst = new tkd::Instance();
  napi_set_instance_data(
      env, inst, [](napi_env, void* data, void*) { delete static_cast<tkd::Instance*>(data); }, nullptr);
  // Teardown: finalizers and async completions that run from now on leave the instance alone.
  napi_add_env_cleanup_hook(env, [](void* data) { static_cast<tkd::Instance*>(data)->closing = true; }, inst);
  tkd::Registrar r(env, exports, inst);
  tkd::registerCore(r);
  tkd::registerOps(r);
  tkd::registerCuda(r);
  tkd::registerIndexing(r);
  tkd::registerAmp(r);
  tkd::registerAutograd(r);
  tkd::registerOptim(r);
  tkd::registerIo(r);
  tkd::registerDistributed(r);
  return exports;
}
