// Autograd: backward / grad, grad modes, tensor autograd metadata, tensor hooks and custom Functions whose
// backward is written in JavaScript.
//
// Threading. libtorch's engine runs the nodes of CUDA devices on its own device threads, but JavaScript may
// only run on the JS thread. So when CUDA is available, backward() and grad() start the engine call on a
// separate thread and make the JS thread wait in a loop that services a queue of "run this JS callback"
// requests (Bridge::serve). Without CUDA every node runs on the calling thread, so the outermost engine call
// is made inline on the JS thread and callbacks are plain calls (nested ones take the thread path, see
// serve). An engine thread that needs JS (JsFunctionNode::apply, a tensor hook) posts a request and blocks
// until the JS thread has run it (Bridge::callJs). The queue is per JS environment and
// shared by nested loops (a JS callback may itself call backward()), so any active loop serves any
// request. The engine thread's thread-local state (grad mode = createGraph, dispatch keys, ...) is captured
// with each request and installed on the JS thread while the callback runs.
//
// A JS exception inside a callback is caught on the JS thread, stored, turned into a C++ JsCallbackError
// that travels through the engine like any backward error, and the original JS error is rethrown from
// backward()/grad() once the engine call has returned.
//
// JS callbacks are identified by numbers; the JS side keeps the functions in a Map and the native side calls
// one dispatcher function. Nodes and hooks may be destroyed on any thread, so they only queue their callback
// id as dead; the JS side drains the list (autogradDrainDead) and forgets those functions.
#include "compat.h"
#include "torchkd.h"

#include <torch/cuda.h>

#include <ATen/ThreadLocalState.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/anomaly_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/saved_variable.h>
#include <torch/csrc/autograd/variable.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace tkd {
namespace {

namespace ag = torch::autograd;

// A JS callback threw; the JS error value is kept in Bridge::errors under `id`.
struct JsCallbackError : std::runtime_error {
  int64_t id;
  JsCallbackError(int64_t id, const std::string& message) : std::runtime_error(message), id(id) {}
};

struct Request {
  std::function<void(napi_env)> run;
  bool done = false;
  int64_t jsErrorId = -1;
  std::string jsErrorMessage;
  std::exception_ptr error;
};

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

struct Bridge {
  Instance* inst = nullptr;
  napi_env env = nullptr;
  std::thread::id jsThread;
  napi_ref dispatcher = nullptr;

  std::mutex m;
  std::condition_variable cv;
  std::atomic<uint64_t> events{0};  // bumped by every signal()

  // With m held: wakes every waiter.
  void signal() {
    events.fetch_add(1, std::memory_order_release);
    cv.notify_all();
  }

  // With m held (through lock): waits until pred() holds. Spins briefly first: the other side usually
  // answers within microseconds, and a blocked thread's wake-up can cost tens of them (VMs especially).
  template <class Pred>
  void waitFor(std::unique_lock<std::mutex>& lock, Pred pred) {
    if (pred()) return;
    uint64_t seen = events.load(std::memory_order_acquire);
    lock.unlock();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
    while (events.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < deadline) {
      for (int k = 0; k < 64; k++) cpuRelax();
    }
    lock.lock();
    cv.wait(lock, pred);
  }
  static constexpr int kSpinMicros = 50;
  std::deque<Request*> queue;  // guarded by m
  int depth = 0;               // active serve loops; guarded by m
  bool alive = true;           // false once the JS environment is torn down; guarded by m
  std::vector<int64_t> dead;   // callback ids of destroyed nodes and hooks; guarded by m

  // JS thread only.
  std::unordered_map<int64_t, napi_ref> errors;
  int64_t nextErrorId = 1;
  std::vector<at::Tensor> result;  // what the running callback handed back via autogradSetResult
  bool hasResult = false;

  void markDead(int64_t id) {
    std::lock_guard<std::mutex> lock(m);
    if (alive) dead.push_back(id);
  }

  // Runs fn on the JS thread: directly when already there, else by posting it to a serve loop and waiting.
  void callJs(std::function<void(napi_env)> fn) {
    Request req;
    req.run = std::move(fn);
    if (std::this_thread::get_id() == jsThread) {
      runRequest(&req);
    } else {
      std::unique_lock<std::mutex> lock(m);
      TORCH_CHECK(alive && depth > 0,
                  "torchkd: a JavaScript autograd callback (tensor hook or custom Function backward) was invoked "
                  "outside backward()/torch.autograd.grad(); JavaScript callbacks can only run while the JS thread "
                  "waits in one of those calls");
      queue.push_back(&req);
      signal();
      waitFor(lock, [&] { return req.done; });
    }
    if (req.error) std::rethrow_exception(req.error);
    if (req.jsErrorId >= 0) throw JsCallbackError(req.jsErrorId, req.jsErrorMessage);
  }

  // JS thread: runs one request, catching everything (a JS exception becomes req->jsErrorId).
  void runRequest(Request* req) {
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    try {
      req->run(env);
    } catch (const JsPending&) {
      captureJsError(req);
    } catch (...) {
      req->error = std::current_exception();
    }
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) captureJsError(req);
    napi_close_handle_scope(env, scope);
  }

  void captureJsError(Request* req) {
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) != napi_ok) return;
    // References can only hold objects before Node-API 10, and JS may throw anything: box the value.
    napi_value box;
    napi_ref ref;
    napi_create_object(env, &box);
    napi_set_named_property(env, box, "value", err);
    napi_create_reference(env, box, 1, &ref);
    int64_t id = nextErrorId++;
    errors[id] = ref;
    req->jsErrorId = id;
    // The message for the C++ side (shown only if the engine reports the error some other way).
    std::string message = "a JavaScript autograd callback threw";
    napi_value msg;
    napi_valuetype t;
    napi_typeof(env, err, &t);
    if (t == napi_object && napi_get_named_property(env, err, "message", &msg) == napi_ok) {
      napi_value str;
      if (napi_coerce_to_string(env, msg, &str) == napi_ok) {
        size_t len = 0;
        napi_get_value_string_utf8(env, str, nullptr, 0, &len);
        std::string s(len, '\0');
        napi_get_value_string_utf8(env, str, &s[0], len + 1, &len);
        message += ": " + s;
      }
    }
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) napi_get_and_clear_last_exception(env, &err);
    req->jsErrorMessage = message;
  }

  // The engine thread: one persistent thread per environment (a std::thread per call costs ~50 µs). A nested
  // engine call (made by a JS callback while the persistent thread is busy) gets a temporary thread.
  std::thread engineThread;
  std::function<void()> engineJob;  // guarded by m
  bool engineBusy = false;          // guarded by m
  bool stopping = false;            // guarded by m

  void engineLoop() {
    std::unique_lock<std::mutex> lock(m);
    for (;;) {
      waitFor(lock, [&] { return engineJob || stopping; });
      if (!engineJob) return;
      std::function<void()> job = std::move(engineJob);
      engineJob = nullptr;
      lock.unlock();
      job();  // never throws; marks engineBusy false and the call finished
      lock.lock();
    }
  }

  // JS thread, at environment teardown (no engine call is running then).
  void stopEngineThread() {
    {
      std::lock_guard<std::mutex> lock(m);
      stopping = true;
      signal();
    }
    if (engineThread.joinable()) engineThread.join();
  }

  ~Bridge() {
    if (engineThread.joinable()) {
      {
        std::lock_guard<std::mutex> lock(m);
        stopping = true;
        signal();
      }
      if (engineThread.get_id() == std::this_thread::get_id()) engineThread.detach();
      else engineThread.join();
    }
  }

  // Without CUDA, libtorch's engine runs every node of a graph on the calling thread (it starts device
  // threads only for accelerators), so JS callbacks are reached on the JS thread directly: `work` runs
  // inline, sparing the hop to the engine thread, which costs ~30% of a small training step (the
  // tensors' cache lines move to another core). With CUDA, nodes run on device threads: serve() below.
  const bool inlineEngine = !torch::cuda::is_available();

  // JS thread: runs `work` on an engine thread and serves JS requests until it has finished. Only the
  // outermost call runs inline: a nested one (backward() from a hook or a custom Function's backward)
  // would be a re-entrant engine call, which libtorch runs on the calling thread up to 60 levels deep and
  // beyond that hands to a pool thread while the caller (here the JS thread, blocked) waits for it: a
  // deadlock as soon as that thread needs JS. On an engine thread of ours a nested call is not re-entrant
  // for libtorch, so backward() nests as deep as the JS stack allows.
  void serve(const std::function<void()>& work) {
    bool inlined;
    {
      std::lock_guard<std::mutex> lock(m);
      inlined = inlineEngine && depth == 0;
      if (inlined) depth++;
    }
    if (inlined) {
      try {
        work();
      } catch (...) {
        // work() stores its own errors.
      }
      std::lock_guard<std::mutex> lock(m);
      depth--;
      return;
    }
    bool finished = false;
    bool onEngineThread = false;
    auto job = [&, this] {
      try {
        work();
      } catch (...) {
        // work() stores its own errors; nothing may escape a thread.
      }
      std::lock_guard<std::mutex> lock(m);
      finished = true;
      if (onEngineThread) engineBusy = false;
      signal();
    };
    std::thread temporary;
    {
      std::lock_guard<std::mutex> lock(m);
      depth++;
      if (!engineBusy && !stopping) {
        engineBusy = onEngineThread = true;
      }
    }
    try {
      if (onEngineThread) {
        if (!engineThread.joinable()) engineThread = std::thread([this] { engineLoop(); });
        std::lock_guard<std::mutex> lock(m);
        engineJob = job;
        signal();
      } else {
        temporary = std::thread(job);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(m);
      depth--;
      if (onEngineThread) engineBusy = false;
      throw;
    }
    std::unique_lock<std::mutex> lock(m);
    for (;;) {
      waitFor(lock, [&] { return !queue.empty() || finished; });
      if (!queue.empty()) {
        Request* req = queue.front();
        queue.pop_front();
        lock.unlock();
        runRequest(req);
        lock.lock();
        req->done = true;
        signal();
        continue;
      }
      break;
    }
    depth--;
    lock.unlock();
    if (temporary.joinable()) temporary.join();
  }

  // Calls the JS dispatcher: dispatch(id, tensors, flags). Tensors become new handles, owned by JS.
  // Returns whether the callback handed back a result (autogradSetResult), which is moved into `out`.
  bool dispatch(napi_env e, int64_t id, const std::vector<at::Tensor>& tensors, const std::vector<bool>& flags,
                std::vector<at::Tensor>* out) {
    napi_value fn, recv, args[3];
    if (dispatcher == nullptr || napi_get_reference_value(e, dispatcher, &fn) != napi_ok || fn == nullptr) {
      throw std::runtime_error("torchkd: the autograd dispatcher is not initialised");
    }
    napi_get_undefined(e, &recv);
    napi_create_double(e, static_cast<double>(id), &args[0]);
    napi_create_array_with_length(e, tensors.size(), &args[1]);
    for (size_t k = 0; k < tensors.size(); k++) {
      napi_value v;
      if (tensors[k].defined()) napi_create_double(e, inst->put(e, tensors[k]), &v);
      else napi_get_null(e, &v);
      napi_set_element(e, args[1], static_cast<uint32_t>(k), v);
    }
    napi_create_array_with_length(e, flags.size(), &args[2]);
    for (size_t k = 0; k < flags.size(); k++) {
      napi_value v;
      napi_get_boolean(e, flags[k], &v);
      napi_set_element(e, args[2], static_cast<uint32_t>(k), v);
    }
    std::vector<at::Tensor> outerResult = std::move(result);
    bool outerHas = hasResult;
    result.clear();
    hasResult = false;
    napi_value ignored;
    napi_status status = napi_call_function(e, recv, fn, 3, args, &ignored);
    bool has = hasResult;
    *out = std::move(result);
    result = std::move(outerResult);
    hasResult = outerHas;
    if (status != napi_ok) throw JsPending();  // runRequest captures the pending JS exception
    return has;
  }

  // Rethrows (into JS) the stored error `id` and forgets it.
  void throwStored(napi_env e, int64_t id) {
    auto it = errors.find(id);
    napi_value box, err;
    napi_get_reference_value(e, it->second, &box);
    napi_get_named_property(e, box, "value", &err);
    napi_delete_reference(e, it->second);
    errors.erase(it);
    napi_throw(e, err);
  }

  void clearErrors(napi_env e) {
    for (auto& kv : errors) napi_delete_reference(e, kv.second);
    errors.clear();
  }
};

// Deliberately leaked: no Bridge (and its thread) is destroyed by static destructors at process exit.
std::mutex& bridgesMutex = *new std::mutex();
std::unordered_map<Instance*, std::shared_ptr<Bridge>>& bridges =
    *new std::unordered_map<Instance*, std::shared_ptr<Bridge>>();

std::shared_ptr<Bridge> bridgeOf(Ctx& c) {
  std::lock_guard<std::mutex> lock(bridgesMutex);
  auto it = bridges.find(c.inst);
  if (it == bridges.end()) throw std::runtime_error("torchkd: autograd is not initialised (autogradInit)");
  return it->second;
}

// ------------------------------------------------------------------------------------------- reading args

// An array of tensor handles (nullish: none); null/undefined entries become undefined tensors when allowed.
std::vector<at::Tensor> tensorList(Ctx& c, size_t i, bool allowNull) {
  if (c.isNullish(i)) return {};
  return c.tensorArray(c.argv[i], "argument " + c.argName(i), allowNull);
}

std::vector<bool> boolList(Ctx& c, size_t i) {
  std::vector<bool> out;
  if (c.isNullish(i)) return out;
  std::string what = "argument " + c.argName(i);
  uint32_t n = c.arrayLength(c.argv[i], what + " must be an array of booleans");
  for (uint32_t k = 0; k < n; k++) {
    bool b = false;
    if (napi_get_value_bool(c.env, c.element(c.argv[i], k, what), &b) != napi_ok) {
      throw ArgError(what + "[" + std::to_string(k) + "] is not a boolean");
    }
    out.push_back(b);
  }
  return out;
}

napi_value retList(Ctx& c, const std::vector<at::Tensor>& ts) {
  napi_value arr;
  napi_create_array_with_length(c.env, ts.size(), &arr);
  for (size_t k = 0; k < ts.size(); k++) napi_set_element(c.env, arr, static_cast<uint32_t>(k), c.ret(ts[k]));
  return arr;
}

std::string describeAll(const std::vector<at::Tensor>& ts) {
  std::string s;
  for (size_t k = 0; k < ts.size(); k++) s += (k ? ", " : "") + describe(ts[k]);
  return s;
}

// --------------------------------------------------------------------------------- running the engine

// Runs an engine call off the JS thread while serving JS callbacks. Engine errors become a thrown
// std::runtime_error (a TorchError via Entry); a JS callback's error is rethrown as is (returns false).
bool runEngine(Ctx& c, const std::function<void()>& call, const std::string& what) {
  std::shared_ptr<Bridge> b = bridgeOf(c);
  b->env = c.env;
  at::ThreadLocalState tls;  // the caller's grad mode, inference mode, dispatch keys...
  std::string error;
  int64_t jsErrorId = -1;
  // This call holds no slot references (its tensors are copies), so the JS callbacks run as top-level
  // calls: what they free is freed at once (see Instance::depth).
  c.inst->depth--;
  struct Restore {
    Instance* inst;
    ~Restore() { inst->depth++; }
  } restore{c.inst};
  b->serve([&] {
    at::ThreadLocalStateGuard guard(tls);
    try {
      call();
    } catch (const JsCallbackError& e) {
      jsErrorId = e.id;
    } catch (const c10::Error& e) {
      error = e.what_without_backtrace();
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown error in the autograd engine";
    }
  });
  bool outermost;
  {
    std::lock_guard<std::mutex> lock(b->m);
    outermost = b->depth == 0;
  }
  if (jsErrorId >= 0 && b->errors.count(jsErrorId)) {
    b->throwStored(c.env, jsErrorId);
    if (outermost) b->clearErrors(c.env);
    return false;
  }
  if (outermost) b->clearErrors(c.env);
  if (!error.empty()) throw std::runtime_error(error + " (" + what + ")");
  return true;
}

c10::optional<bool> optBool(Ctx& c, size_t i) {
  if (c.isNullish(i)) return c10::nullopt;
  return c.boolean(i);
}

// backward(tensors, gradTensors, retainGraph, createGraph, inputs)
napi_value Backward(Ctx& c) {
  std::vector<at::Tensor> tensors = tensorList(c, 0, false);
  std::vector<at::Tensor> grads = tensorList(c, 1, true);
  c10::optional<bool> retain = optBool(c, 2);
  bool create = !c.isNullish(3) && c.boolean(3);
  std::vector<at::Tensor> inputs = tensorList(c, 4, false);
  bool ok = runEngine(c, [&] {
    ag::backward(tensors, grads, retain, create, inputs);
  }, "tensors: " + describeAll(tensors));
  grads.clear();
  return ok ? c.undefined() : nullptr;
}

// grad(outputs, inputs, gradOutputs, retainGraph, createGraph, allowUnused) -> (handle | null)[]
napi_value Grad(Ctx& c) {
  std::vector<at::Tensor> outputs = tensorList(c, 0, false);
  std::vector<at::Tensor> inputs = tensorList(c, 1, false);
  std::vector<at::Tensor> gradOutputs = tensorList(c, 2, true);
  c10::optional<bool> retain = optBool(c, 3);
  bool create = !c.isNullish(4) && c.boolean(4);
  bool allowUnused = !c.isNullish(5) && c.boolean(5);
  std::vector<at::Tensor> result;
  bool ok = runEngine(c, [&] {
    result = ag::grad(outputs, inputs, gradOutputs, retain, create, allowUnused);
  }, "outputs: " + describeAll(outputs) + "; inputs: " + describeAll(inputs));
  return ok ? retList(c, result) : nullptr;
}

// ----------------------------------------------------------------------------------------- custom Functions

struct OutputInfo {
  std::vector<int64_t> sizes;
  at::TensorOptions options;
};

// The backward node of a custom Function whose backward runs in JS.
struct JsFunctionNode : public ag::Node {
  std::shared_ptr<Bridge> bridge;
  int64_t callbackId;
  std::string fnName;
  std::vector<ag::SavedVariable> saved;
  std::vector<bool> savedDefined;
  std::vector<OutputInfo> outputs;
  bool materializeGrads = true;

  JsFunctionNode(std::shared_ptr<Bridge> b, int64_t id, std::string name)
      : bridge(std::move(b)), callbackId(id), fnName(std::move(name)) {}
  ~JsFunctionNode() override { bridge->markDead(callbackId); }

  std::string name() const override { return fnName; }

  void release_variables() override {
    for (auto& s : saved) s.reset_data();
  }

  ag::variable_list apply(ag::variable_list&& grads) override {
    std::vector<at::Tensor> tensors;
    for (size_t k = 0; k < grads.size(); k++) {
      if (!grads[k].defined() && materializeGrads && k < outputs.size()) {
        tensors.push_back(at::zeros(outputs[k].sizes, outputs[k].options));
      } else {
        tensors.push_back(grads[k]);
      }
    }
    // Unpacking throws "Trying to backward through the graph a second time" once released.
    auto self = compat::selfPtr(this);
    for (size_t k = 0; k < saved.size(); k++) {
      tensors.push_back(savedDefined[k] ? saved[k].unpack(self) : at::Tensor());
    }
    std::vector<bool> needs(num_outputs());
    for (size_t k = 0; k < needs.size(); k++) needs[k] = task_should_compute_output(k);

    at::ThreadLocalState tls;  // the engine's: grad mode = createGraph
    std::vector<at::Tensor> result;
    bool has = false;
    bridge->callJs([&](napi_env env) {
      at::ThreadLocalStateGuard guard(tls);
      has = bridge->dispatch(env, callbackId, tensors, needs, &result);
    });
    tensors.clear();
    TORCH_CHECK(has, "custom Function ", fnName, ": backward handed back no gradients");
    TORCH_CHECK(result.size() == num_outputs(), "custom Function ", fnName, ": backward returned ", result.size(),
                " gradients for ", num_outputs(), " tensor inputs");
    for (size_t k = 0; k < result.size(); k++) {
      if (!needs[k]) result[k] = at::Tensor();
    }
    return result;
  }
};

// functionApply(id, name, inputs, outputs, saved, nonDifferentiable, materializeGrads) -> output handles.
// The forward has already run (under no_grad); this records the backward node and connects the outputs.
napi_value FunctionApply(Ctx& c) {
  std::shared_ptr<Bridge> b = bridgeOf(c);
  int64_t id = c.int64(0);
  std::string name = c.string(1);
  std::vector<at::Tensor> inputs = tensorList(c, 2, false);
  std::vector<at::Tensor> raw = tensorList(c, 3, false);
  std::vector<at::Tensor> savedIn = tensorList(c, 4, true);
  std::vector<bool> nonDiff = boolList(c, 5);
  bool materialize = c.isNullish(6) || c.boolean(6);

  auto node = compat::makeNode<JsFunctionNode>(b, id, name);
  node->materializeGrads = materialize;
  node->set_next_edges(ag::collect_next_edges(inputs));

  std::vector<at::Tensor> outs;
  for (size_t k = 0; k < raw.size(); k++) {
    at::Tensor out = raw[k];
    node->outputs.push_back({out.sizes().vec(), out.options()});
    bool differentiable = !(k < nonDiff.size() && nonDiff[k]) &&
                          (at::isFloatingType(out.scalar_type()) || at::isComplexType(out.scalar_type()));
    if (!differentiable) {
      node->add_input_metadata(ag::Node::undefined_input());
      outs.push_back(out);
      continue;
    }
    bool isInput = false;
    for (const at::Tensor& in : inputs) isInput = isInput || in.unsafeGetTensorImpl() == out.unsafeGetTensorImpl();
    if (isInput || out.requires_grad()) {
      // An input (or other tensor with its own history) returned as is: give the output its own TensorImpl.
      at::AutoGradMode noGrad(false);
      out = out.view_as(out);
    }
    uint32_t nr = node->add_input_metadata(out);
    ag::impl::set_gradient_edge(out, ag::Edge(node, nr));
    outs.push_back(out);
  }
  for (const at::Tensor& s : savedIn) {
    node->savedDefined.push_back(s.defined());
    if (!s.defined()) {
      node->saved.emplace_back();
      continue;
    }
    // A saved output is stored without its grad_fn (is_output), which would otherwise be a reference cycle.
    int64_t outIndex = -1;
    for (size_t k = 0; k < raw.size(); k++) {
      if (raw[k].unsafeGetTensorImpl() == s.unsafeGetTensorImpl()) outIndex = static_cast<int64_t>(k);
    }
    if (outIndex >= 0 && outs[outIndex].grad_fn() == node) {
      node->saved.emplace_back(outs[outIndex], true);
    } else {
      node->saved.emplace_back(s, false);
    }
  }
  return retList(c, outs);
}

// ----------------------------------------------------------------------------------------------- hooks

// Owned (through a shared_ptr) by a hook's std::function and its copies: the last one gone marks the id dead.
struct DeadOnDestroy {
  std::shared_ptr<Bridge> bridge;
  int64_t id;
  DeadOnDestroy(std::shared_ptr<Bridge> b, int64_t id) : bridge(std::move(b)), id(id) {}
  DeadOnDestroy(const DeadOnDestroy&) = delete;
  DeadOnDestroy& operator=(const DeadOnDestroy&) = delete;
  ~DeadOnDestroy() { bridge->markDead(id); }
};

// registerHook(self, id) -> hook index
napi_value RegisterHook(Ctx& c) {
  at::Tensor& t = c.tensor(0);
  int64_t id = c.int64(1);
  std::shared_ptr<Bridge> b = bridgeOf(c);
  auto token = std::make_shared<DeadOnDestroy>(b, id);
  std::function<at::Tensor(const at::Tensor&)> hook = [token](const at::Tensor& grad) -> at::Tensor {
    Bridge& br = *token->bridge;
    at::ThreadLocalState tls;
    std::vector<at::Tensor> result;
    bool has = false;
    br.callJs([&](napi_env env) {
      at::ThreadLocalStateGuard guard(tls);
      has = br.dispatch(env, token->id, {grad}, {}, &result);
    });
    if (!has || result.empty() || !result[0].defined()) return grad;
    return result[0];
  };
  unsigned pos = t.register_hook(std::move(hook));
  return c.ret(static_cast<double>(pos));
}

// removeHook(self, index)
napi_value RemoveHook(Ctx& c) {
  at::Tensor& t = c.tensor(0);
  t.remove_hook(static_cast<unsigned>(c.int64(1)));
  return c.undefined();
}

// --------------------------------------------------------------------------------- the JS-side plumbing

napi_value AutogradInit(Ctx& c) {
  napi_valuetype t = c.type(0);
  if (t != napi_function) throw ArgError("autogradInit(dispatch): dispatch must be a function");
  {
    std::lock_guard<std::mutex> lock(bridgesMutex);
    auto it = bridges.find(c.inst);
    if (it != bridges.end()) {
      // Initialised before in this environment: only the dispatcher changes.
      Bridge& b = *it->second;
      napi_delete_reference(c.env, b.dispatcher);
      napi_create_reference(c.env, c.argv[0], 1, &b.dispatcher);
      return c.undefined();
    }
    auto b = std::make_shared<Bridge>();
    b->inst = c.inst;
    b->env = c.env;
    b->jsThread = std::this_thread::get_id();
    napi_create_reference(c.env, c.argv[0], 1, &b->dispatcher);
    bridges[c.inst] = b;
  }
  // Environment teardown (worker exit): nodes that outlive it must not touch the env any more.
  napi_add_env_cleanup_hook(
      c.env,
      [](void* arg) {
        auto* inst = static_cast<Instance*>(arg);
        std::shared_ptr<Bridge> b;
        {
          std::lock_guard<std::mutex> lock(bridgesMutex);
          auto it = bridges.find(inst);
          if (it == bridges.end()) return;
          b = it->second;
          bridges.erase(it);
        }
        {
          std::lock_guard<std::mutex> lock(b->m);
          b->alive = false;
          b->dead.clear();
        }
        b->stopEngineThread();
      },
      c.inst);
  return c.undefined();
}

// autogradSetResult(handles): the running JS callback's result (a tensor per slot, or null).
napi_value AutogradSetResult(Ctx& c) {
  std::shared_ptr<Bridge> b = bridgeOf(c);
  b->result = tensorList(c, 0, true);
  b->hasResult = true;
  return c.undefined();
}

// autogradDrainDead() -> ids of callbacks whose node or hook has been destroyed.
napi_value AutogradDrainDead(Ctx& c) {
  std::shared_ptr<Bridge> b = bridgeOf(c);
  std::vector<int64_t> ids;
  {
    std::lock_guard<std::mutex> lock(b->m);
    ids.swap(b->dead);
  }
  napi_value arr;
  napi_create_array_with_length(c.env, ids.size(), &arr);
  for (size_t k = 0; k < ids.size(); k++) {
    napi_set_element(c.env, arr, static_cast<uint32_t>(k), c.ret(static_cast<double>(ids[k])));
  }
  return arr;
}

// -------------------------------------------------------------------------------- tensor autograd state

napi_value GetGrad(Ctx& c) { return c.ret(c.tensor(0).grad()); }

napi_value SetGrad(Ctx& c) {
  at::Tensor& t = c.tensor(0);
  if (c.isNullish(1)) {
    t.mutable_grad() = at::Tensor();
    return c.undefined();
  }
  at::Tensor& g = c.tensor(1);
  TORCH_CHECK(g.scalar_type() == t.scalar_type(), "assigned grad has data of a different type (",
              dtypeName(g.scalar_type()), " vs ", dtypeName(t.scalar_type()), ")");
  TORCH_CHECK(g.device() == t.device(), "assigned grad has data located on a different device");
  TORCH_CHECK(g.sizes().equals(t.sizes()), "assigned grad has data of a different size");
  t.mutable_grad() = g;
  return c.undefined();
}

napi_value RetainGrad(Ctx& c) {
  c.tensor(0).retain_grad();
  return c.undefined();
}
napi_value RetainsGrad(Ctx& c) { return c.retBool(c.tensor(0).retains_grad()); }
napi_value IsLeaf(Ctx& c) { return c.retBool(c.tensor(0).is_leaf()); }

napi_value GradFn(Ctx& c) {
  const auto& fn = c.tensor(0).grad_fn();
  if (!fn) return c.null();
  return c.retString(fn->name());
}

napi_value IsInference(Ctx& c) { return c.retBool(c.tensor(0).is_inference()); }

// ----------------------------------------------------------------------------------------------- modes

napi_value IsGradEnabled(Ctx& c) { return c.retBool(at::GradMode::is_enabled()); }
napi_value SetGradEnabled(Ctx& c) {
  at::GradMode::set_enabled(c.boolean(0));
  return c.undefined();
}

// InferenceMode is an RAII guard; JS enters and exits it in strict nesting (try/finally), per thread.
thread_local std::vector<std::unique_ptr<c10::InferenceMode>> inferenceGuards;

napi_value EnterInferenceMode(Ctx& c) {
  bool mode = c.isNullish(0) || c.boolean(0);
  inferenceGuards.push_back(std::make_unique<c10::InferenceMode>(mode));
  return c.undefined();
}
napi_value ExitInferenceMode(Ctx& c) {
  if (inferenceGuards.empty()) throw std::runtime_error("exitInferenceMode without enterInferenceMode");
  inferenceGuards.pop_back();
  return c.undefined();
}
napi_value IsInferenceModeEnabled(Ctx& c) { return c.retBool(c10::InferenceMode::is_enabled()); }

napi_value SetDetectAnomaly(Ctx& c) {
  ag::AnomalyMode::set_enabled(c.boolean(0));
  return c.undefined();
}
napi_value IsAnomalyEnabled(Ctx& c) { return c.retBool(ag::AnomalyMode::is_enabled()); }

}  // namespace

void registerAutograd(Registrar& r) {
  r.def("autogradInit", Entry<AutogradInit>, {"dispatch"});
  r.def("autogradSetResult", Entry<AutogradSetResult>, {"tensors"});
  r.def("autogradDrainDead", Entry<AutogradDrainDead>);
  r.def("backward", Entry<Backward>, {"tensors", "gradTensors", "retainGraph", "createGraph", "inputs"});
  r.def("grad", Entry<Grad>, {"outputs", "inputs", "gradOutputs", "retainGraph", "createGraph", "allowUnused"});
  r.def("functionApply", Entry<FunctionApply>,
        {"id", "name", "inputs", "outputs", "saved", "nonDifferentiable", "materializeGrads"});
  r.def("registerHook", Entry<RegisterHook>, {"self", "id"});
  r.def("removeHook", Entry<RemoveHook>, {"self", "index"});
  r.def("getGrad", Entry<GetGrad>, {"self"});
  r.def("setGrad", Entry<SetGrad>, {"self", "grad"});
  r.def("retainGrad", Entry<RetainGrad>, {"self"});
  r.def("retainsGrad", Entry<RetainsGrad>, {"self"});
  r.def("isLeaf", Entry<IsLeaf>, {"self"});
  r.def("gradFn", Entry<GradFn>, {"self"});
  r.def("isInference", Entry<IsInference>, {"self"});
  r.def("isGradEnabled", Entry<IsGradEnabled>);
  r.def("setGradEnabled", Entry<SetGradEnabled>, {"mode"});
  r.def("enterInferenceMode", Entry<EnterInferenceMode>, {"mode"});
  r.def("exitInferenceMode", Entry<ExitInferenceMode>);
  r.def("isInferenceModeEnabled", Entry<IsInferenceModeEnabled>);
  r.def("setDetectAnomaly", Entry<SetDetectAnomaly>, {"mode"});
  r.def("isAnomalyEnabled", Entry<IsAnomalyEnabled>);
}

}  // namespace tkd
