// torchkd native layer: shared declarations.
//
// Tensors live in a per-instance slot table (one instance per Node environment, so each worker thread has
// its own). JavaScript holds plain numbers: handle = generation * 2^24 + slot index. A freed slot bumps its
// generation, so a stale handle (disposed tensor, finalizer firing after dispose) is detected, never reused.
//
// Every exported function goes through Entry<F>, which converts c10::Error / std::exception into a thrown
// TorchError naming the op and the shapes, dtypes and devices of its tensor arguments.
//
// Re-entrancy. Reading an argument may run JavaScript (an array element's getter, a Proxy trap), and that
// code may call torchkd again: create tensors, dispose the very tensor being read. So slots live in chunks
// that never move (an at::Tensor& taken by a reader stays valid), and a slot freed by a nested call is
// released only when the outermost call returns. A getter that throws leaves its exception pending: every
// Node-API status of a call that may run JS is checked, and the exception propagates unchanged (JsPending).
//
// Forgotten tensors. A Tensor wrapper that nobody disposed gets a Node-API finalizer (Instance::adopt). It is
// built with NAPI_EXPERIMENTAL, under which Node (>= 20.10) runs such finalizers during the garbage
// collection itself rather than on a later turn of the event loop, so a synchronous loop that never yields
// still gets its memory back. The finalizer only queues the handle (JS may still hold the number for an
// instant, and the slot table must not change in the middle of a call): the queue is emptied when the JS
// layer hands over its next batch of tensors (nursery flush) and on the next turn of the event loop.
#pragma once

#include <node_api.h>
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

// A JS exception is pending (thrown by a getter, a Proxy trap or a callback): Entry lets it propagate as is.
struct JsPending {};

// Throws JsPending when a Node-API call that may run JS failed with an exception pending, else ArgError.
void checkJs(napi_env env, napi_status status, const std::string& what);

constexpr int kSlotBits = 24;
constexpr int64_t kSlotMask = (int64_t{1} << kSlotBits) - 1;
constexpr uint32_t kGenMask = (1u << 29) - 1;

struct Slot {
  at::Tensor tensor;
  uint32_t gen = 0;
  int64_t bytes = 0;
  bool live = false;
  bool reported = false;  // adopted by the finalizer net: bytes counted in V8's external memory
};

class Instance;

// The slot table's storage: fixed-size chunks, so that a Slot never moves when the table grows.
class SlotTable {
 public:
  static constexpr int kChunkBits = 12;
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;
  Slot& operator[](size_t i) { return chunks_[i >> kChunkBits][i & (kChunkSize - 1)]; }
  size_t size() const { return size_; }
  // Appends an empty slot and returns its index.
  uint32_t grow() {
    if ((size_ & (kChunkSize - 1)) == 0) chunks_.emplace_back(new Slot[kChunkSize]);
    return static_cast<uint32_t>(size_++);
  }

 private:
  std::vector<std::unique_ptr<Slot[]>> chunks_;
  size_t size_ = 0;
};

// Static description of an exported function: its name and argument names (for error messages).
struct OpInfo {
  const char* name;  // as shown in error messages: the JS name
  std::vector<std::string> argNames;
  Instance* instance;
};

class Instance {
 public:
  SlotTable slots;
  std::vector<uint32_t> freeSlots;
  int64_t liveTensors = 0;
  int64_t liveBytes = 0;
  int64_t pendingExternal = 0;  // change not yet reported to napi_adjust_external_memory
  int depth = 0;                // native calls of this environment in progress (see Re-entrancy above)
  std::vector<int64_t> deferred;   // handles freed by nested calls, released when the outermost returns
  std::vector<int64_t> collected;  // handles whose wrapper the GC collected, not yet released
  bool drainPosted = false;        // a release of `collected` is scheduled on the event loop
  bool closing = false;            // the environment is being torn down
  // Bytes of the tensors made since the last adopt(), in a Float64Array shared with the JS layer, which
  // flushes its nursery early when many bytes wait there (lib/torch/memory.ts).
  double* allocated = nullptr;
  napi_ref allocatedRef = nullptr;
  napi_ref errorClass = nullptr;
  std::vector<std::unique_ptr<OpInfo>> ops;
  std::shared_ptr<void> jitModules;  // io.cc's table of TorchScript modules
  std::shared_ptr<void> distributed;  // distributed.cc's link for settling work handles on this thread

  double put(napi_env env, at::Tensor t);
  // The tensor behind a handle, or nullptr when the handle is stale or malformed.
  at::Tensor* find(int64_t handle);
  // Frees a slot (later, when called from a nested call); false when the handle was already stale.
  bool release(napi_env env, int64_t handle);
  // Hands the wrappers objects[k] of handles[k] to the finalizer safety net and counts their bytes in
  // V8's external memory, so that they put pressure on the GC; then releases the collected ones.
  void adopt(napi_env env, napi_value objects, const double* handles, size_t n);
  // Releases the handles the GC has collected (outside nested calls only).
  void releaseCollected(napi_env env);
  // At the outermost call's return: releases what nested calls freed.
  void releaseDeferred(napi_env env);
  void reportExternal(napi_env env, int64_t delta);
};

// Counts a native call in Instance::depth for its duration.
struct CallDepth {
  napi_env env;
  Instance* inst;
  CallDepth(napi_env e, Instance* i) : env(e), inst(i) { inst->depth++; }
  ~CallDepth() {
    if (--inst->depth == 0 && !inst->deferred.empty()) inst->releaseDeferred(env);
  }
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

  // Reading nested values. The length of array v (ArgError naming `what` when it is not an array), its
  // element k (JsPending when a getter throws), and the live tensor behind a handle value (or nullptr).
  uint32_t arrayLength(napi_value v, const std::string& what);
  napi_value element(napi_value array, uint32_t k, const std::string& what);
  at::Tensor* handleTensor(napi_value v);
  // The tensors of array v; null/undefined entries become undefined tensors where allowNull.
  std::vector<at::Tensor> tensorArray(napi_value v, const std::string& what, bool allowNull);
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

  // Throws a TorchError "op(): message (arg: float32[2, 3] on cpu, ...)" into JS (unless a JS exception
  // is already pending, which then propagates instead).
  void throwError(const std::string& message, const char* code);
};

using Impl = napi_value (*)(Ctx&);

template <Impl F>
napi_value Entry(napi_env env, napi_callback_info info) {
  Ctx c(env, info);
  CallDepth depth(env, c.inst);
  try {
    return F(c);
  } catch (const JsPending&) {
    // The JS exception propagates.
  } catch (const ArgError& e) {
    c.throwError(e.what(), "ERR_INVALID_ARG");
  } catch (const c10::Error& e) {
    c.throwError(e.what_without_backtrace(), "ERR_TORCH");
  } catch (const std::bad_alloc&) {
    c.throwError("out of memory", "ERR_OUT_OF_MEMORY");
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

// The writable bytes of ArrayBuffer argument i, which must hold exactly `bytes`. Buffers handed back to JS
// are allocated by the JS layer, where a failed allocation is a catchable RangeError (napi_create_arraybuffer
// would end the process with V8's fatal out-of-memory error instead).
void* bufferArg(Ctx& c, size_t i, size_t bytes);

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
void registerDistributed(Registrar& r);

}  // namespace tkd
