// torchkd native layer: shared declarations.
//
// Tensors live in a per-instance slot table (one instance per Node environment, so each worker thread has
// its own). JavaScript holds plain numbers: handle = generation * 2^24 + slot index. A freed slot bumps its
// generation, so a stale handle (disposed tensor, finalizer firing after dispose) is detected, never reused.
//
// Every exported function goes through Entry<F>, which converts c10::Error / std::exception into a thrown
// TorchError naming the op and the shapes, dtypes and devices of its tensor arguments.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace tkd {

// A JS argument of the wrong kind: thrown by the Ctx readers, reported as a TorchError.
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr int kSlotBits = 24;
constexpr int64_t kSlotMask = (int64_t{1} << kSlotBits) - 1;
constexpr uint32_t kGenMask = (1u << 29) - 1;

struct Slot {
  at::Tensor tensor;
  uint32_t gen = 0;
  int64_t bytes = 0;
  bool live = false;
  bool reported = false;  // bytes counted in V8's external memory (tensors left to the GC only)
};

class Instance;

// Static description of an exported function: its name and argument names (for error messages).
struct OpInfo {
  const char* name;  // as shown in error messages: the JS name
  std::vector<std::string> argNames;
  Instance* instance;
};

class Instance {
 public:
  std::vector<Slot> slots;
  std::vector<uint32_t> freeSlots;
  int64_t liveTensors = 0;
  int64_t liveBytes = 0;
  int64_t pendingExternal = 0;  // bytes not yet reported to napi_adjust_external_memory
  napi_ref errorClass = nullptr;
  std::vector<std::unique_ptr<OpInfo>> ops;
  std::shared_ptr<void> jitModules;  // io.cc's table of TorchScript modules

  double put(napi_env env, at::Tensor t);
  // The tensor behind a handle, or nullptr when the handle is stale or malformed.
  at::Tensor* find(int64_t handle);
  // Frees a slot; false when the handle was already stale (a no-op, not an error).
  bool release(napi_env env, int64_t handle);
  // Counts a tensor's bytes in V8's external memory: done for the tensors handed to the finalizer safety
  // net, whose native memory only a garbage collection can free.
  void reportToGc(napi_env env, int64_t handle);
  void reportExternal(napi_env env, int64_t delta);
};

// One call's arguments, with typed readers that throw ArgError naming the argument.
class Ctx {
 public:
  static constexpr size_t kMaxArgs = 16;
  napi_env env;
  OpInfo* op;
  Instance* inst;
  size_t argc = kMaxArgs;
  napi_value argv[kMaxArgs];
  // Which arguments were read as tensors, so an error can describe them.
  uint8_t tensorArgs[kMaxArgs];
  size_t nTensorArgs = 0;
  // Whether any tensor argument read so far requires grad.
  bool gradNeeded = false;

  Ctx(napi_env env, napi_callback_info info);

  std::string argName(size_t i) const;
  napi_valuetype type(size_t i) const;
  bool isNullish(size_t i) const;

  at::Tensor& tensor(size_t i);
  double number(size_t i);
  int64_t int64(size_t i);
  bool boolean(size_t i);
  std::string string(size_t i);
  std::vector<int64_t> intList(size_t i);
  std::vector<at::Tensor> tensorList(size_t i);
  std::vector<double> doubleList(size_t i);
  at::Scalar scalar(size_t i);
  at::ScalarType dtype(size_t i);
  c10::optional<at::ScalarType> optDtype(size_t i);
  at::Device device(size_t i);
  // A dim for a tensor of the given rank: negative counts from the end; out of range is an error.
  int64_t dim(size_t i, int64_t rank);

  // Runs an out-of-place op whose tensor arguments have all been read. When none requires grad there is
  // nothing for autograd to record, so the op is dispatched below the Autograd and ADInplaceOrView keys,
  // as PyTorch's own autograd kernels do after recording (saves ~10% of a small op). Only for ops whose
  // result never aliases an input: in-place and view ops need ADInplaceOrView's version and view tracking,
  // so they are called directly.
  template <class F>
  auto run(F&& op) {
    if (gradNeeded) return op();
    at::AutoDispatchBelowADInplaceOrView guard;
    return op();
  }

  napi_value ret(at::Tensor t);
  napi_value ret(double v);
  napi_value retBool(bool v);
  napi_value retString(const std::string& s);
  napi_value retIntList(at::IntArrayRef v);
  // Several results: a JS array of handles.
  napi_value retList(const std::vector<at::Tensor>& tensors);
  template <class... T>
  napi_value retTuple(const std::tuple<T...>& results) {
    return retList(std::apply([](const auto&... t) { return std::vector<at::Tensor>{t...}; }, results));
  }
  napi_value undefined();
  napi_value null();

  // Throws a TorchError "op(): message (arg: float32[2, 3] on cpu, ...)" into JS.
  void throwError(const std::string& message, const char* code);
};

using Impl = napi_value (*)(Ctx&);

template <Impl F>
napi_value Entry(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  try {
    return F(c);
  } catch (const Napi::Error& e) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) c.throwError(e.Message(), "ERR_NAPI");
  } catch (const ArgError& e) {
    c.throwError(e.what(), "ERR_INVALID_ARG");
  } catch (const c10::Error& e) {
    c.throwError(e.what_without_backtrace(), "ERR_TORCH");
  } catch (const std::exception& e) {
    c.throwError(e.what(), "ERR_TORCH");
  } catch (...) {
    c.throwError("unknown native error", "ERR_TORCH");
  }
  return nullptr;
}

// Registers exported functions on the module's exports object.
class Registrar {
 public:
  Registrar(napi_env env, napi_value exports, Instance* inst) : env_(env), exports_(exports), inst_(inst) {}
  // Exports cb as `name`; errors name the op `displayName` (default: name).
  void def(const char* name, napi_callback cb, std::vector<std::string> argNames = {},
           const char* displayName = nullptr);

 private:
  napi_env env_;
  napi_value exports_;
  Instance* inst_;
};

std::string describe(const at::Tensor& t);
// The at::Generator behind a JS torch.Generator argument (an ArgError for anything else).
at::Generator generatorArg(Ctx& c, size_t i);
const char* dtypeName(at::ScalarType t);

// Each file registers its own functions.
void registerCore(Registrar& r);
void registerOps(Registrar& r);
void registerCuda(Registrar& r);
void registerIndexing(Registrar& r);
void registerAmp(Registrar& r);
void registerAutograd(Registrar& r);
void registerOptim(Registrar& r);
void registerIo(Registrar& r);

}  // namespace tkd
