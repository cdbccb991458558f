// torch.distributed over PyTorch's own c10d: the key-value stores (TCPStore, FileStore, HashStore,
// PrefixStore), process groups (ProcessGroupGloo; ProcessGroupNCCL in CUDA builds that have NCCL's header),
// the collectives and point-to-point ops with their work handles, and the DDP Reducer with its helpers.
// Python's policy (rendezvous steps, store prefixes, rank translation, argument checks) is transcribed in
// lib/torch/distributed.ts; this file turns those calls into c10d calls.
//
// Collective checks. A gloo collective whose ranks disagree on the tensors is undefined: different byte
// counts abort the process from gloo's transport thread, equal byte counts reduce garbage. So unless the
// group was created without checks, every collective first exchanges a fingerprint (op, dtype, shape, root,
// reduce op) with an all-gather on a second, private gloo group, and every rank throws when they differ;
// point-to-point sends carry their fingerprint on that group too, and receives read it before posting the
// data receive. The data path itself is PyTorch's, so a group without checks interoperates with Python ranks.
//
// Order. Collectives must reach the backend in the same order on every rank. Asynchronous ones are checked
// and launched by one FIFO thread per group (so the JS thread never waits for its peers); a synchronous one
// runs on the calling thread when that queue is idle, else it waits its turn. The Reducer's own collectives
// (DDP) start after the queue has drained. Checked receives of a group are served in call order by a
// second FIFO thread.
//
// Completion. A work handle is a JS external owning a Job. wait() returns a promise that a thread-safe
// function settles on the JS thread once the backend's futures (or a waiter thread, for works without a
// future) report completion.
//
// Lifetime. Groups live in a process-wide table until destroyProcessGroup, like PyTorch's: a finalizer must
// never block on a group whose peers are gone, and the table is never destroyed at exit.
#define TKD_C10D
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#if defined(TORCHKD_NCCL) && !defined(USE_C10D_NCCL)
#define USE_C10D_NCCL
#endif

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#ifdef TORCHKD_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "compat.h"
#include "torchkd.h"

#include <ATen/CPUGeneratorImpl.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

namespace tkd {
namespace {

using c10::intrusive_ptr;
using Works = std::vector<intrusive_ptr<c10d::Work>>;
using std::chrono::milliseconds;

std::string errorText(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const c10::Error& err) {
    return err.what_without_backtrace();
  } catch (const std::exception& err) {
    return err.what();
  } catch (...) {
    return "unknown error";
  }
}

// ------------------------------------------------------------------------------------------- externals

const napi_type_tag kStoreTag = {0x7a1c5d3e9b2f4a61ull, 0x8c0d1e2f3a4b5c6dull};
const napi_type_tag kWorkTag = {0x2b3c4d5e6f708192ull, 0xa3b4c5d6e7f80912ull};
const napi_type_tag kReducerTag = {0x5e6f7081a2b3c4d5ull, 0x1234f6e7d8c9b0a1ull};

template <class T>
napi_value box(napi_env env, std::shared_ptr<T> value, const napi_type_tag& tag) {
  auto* held = new std::shared_ptr<T>(std::move(value));
  napi_value ext;
  // A generic lambda converts to either headers' finalizer type (see core.cc's Generator externals).
  napi_create_external(env, held, [](auto, void* data, void*) { delete static_cast<std::shared_ptr<T>*>(data); },
                       nullptr, &ext);
  napi_type_tag_object(env, ext, &tag);
  return ext;
}

template <class T>
std::shared_ptr<T>& unbox(Ctx& c, size_t i, const napi_type_tag& tag, const char* what) {
  bool ok = false;
  if (i < c.argc && c.type(i) == napi_external) napi_check_object_type_tag(c.env, c.argv[i], &tag, &ok);
  if (!ok) throw ArgError("argument " + c.argName(i) + " must be " + what);
  void* data;
  napi_get_value_external(c.env, c.argv[i], &data);
  return *static_cast<std::shared_ptr<T>*>(data);
}

struct StoreBox {
  intrusive_ptr<c10d::Store> store;
};

intrusive_ptr<c10d::Store>& storeArg(Ctx& c, size_t i) {
  return unbox<StoreBox>(c, i, kStoreTag, "a distributed Store")->store;
}

// ------------------------------------------------------------------- settling promises on the JS thread

struct Job;

// One per JS environment: the thread-safe function that settles wait() promises, and those promises.
struct EnvLink {
  std::mutex m;
  napi_threadsafe_function tsfn = nullptr;  // guarded by m; null before the first wait and once finalized
  // JS thread only.
  Instance* inst = nullptr;
  int64_t nextId = 1;
  std::unordered_map<int64_t, napi_deferred> deferreds;
};

struct Settle {
  std::shared_ptr<Job> job;
  int64_t id;
};

void settle(napi_env env, EnvLink& link, const Job& job, int64_t id);

void callJs(napi_env env, napi_value, void* context, void* data) {
  std::unique_ptr<Settle> s(static_cast<Settle*>(data));
  if (env == nullptr) return;  // the environment is going away
  EnvLink& link = **static_cast<std::shared_ptr<EnvLink>*>(context);
  settle(env, link, *s->job, s->id);
}

std::shared_ptr<EnvLink> envLink(napi_env env, Instance* inst) {
  if (!inst->distributed) {
    auto link = std::make_shared<EnvLink>();
    link->inst = inst;
    inst->distributed = link;
  }
  auto link = std::static_pointer_cast<EnvLink>(inst->distributed);
  if (link->tsfn == nullptr) {
    napi_value name;
    napi_create_string_utf8(env, "torchkd.distributed", NAPI_AUTO_LENGTH, &name);
    auto* held = new std::shared_ptr<EnvLink>(link);
    napi_threadsafe_function tsfn;
    napi_status st = napi_create_threadsafe_function(
        env, nullptr, nullptr, name, 0, 1, held,
        [](napi_env, void* data, void*) {
          auto* h = static_cast<std::shared_ptr<EnvLink>*>(data);
          {
            std::lock_guard<std::mutex> lock((*h)->m);
            (*h)->tsfn = nullptr;
          }
          delete h;
        },
        held, callJs, &tsfn);
    if (st != napi_ok) {
      delete held;
      throw std::runtime_error("could not create the thread-safe function that settles work handles");
    }
    napi_unref_threadsafe_function(env, tsfn);
    std::lock_guard<std::mutex> lock(link->m);
    link->tsfn = tsfn;
  }
  return link;
}

napi_value makeTorchError(napi_env env, Instance* inst, const std::string& op, const std::string& message) {
  std::string text = op + "(): " + message;
  napi_value msg, err, code, opName, ctor = nullptr;
  napi_create_string_utf8(env, text.data(), text.size(), &msg);
  if (inst->errorClass) napi_get_reference_value(env, inst->errorClass, &ctor);
  if (ctor == nullptr || napi_new_instance(env, ctor, 1, &msg, &err) != napi_ok) napi_create_error(env, nullptr, msg, &err);
  napi_create_string_utf8(env, "ERR_TORCH", NAPI_AUTO_LENGTH, &code);
  napi_set_named_property(env, err, "code", code);
  napi_create_string_utf8(env, op.data(), op.size(), &opName);
  napi_set_named_property(env, err, "op", opName);
  return err;
}

// ------------------------------------------------------------------------------------------------ jobs

// One collective or point-to-point op: `start` checks and launches it and returns the backend's works to
// wait for (or does everything itself and returns none).
struct Job : std::enable_shared_from_this<Job> {
  std::string op;
  std::function<Works(Job&)> start;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;               // guarded by m
  std::string error;               // set before done
  int sourceRank = -1;             // a receive's sender
  intrusive_ptr<c10d::Work> from;  // a receive from any source: its work knows the sender
  std::vector<std::pair<std::shared_ptr<EnvLink>, int64_t>> waiters;  // guarded by m

  void finish(std::string err) {
    if (err.empty() && from) {
      try {
        sourceRank = from->sourceRank();
      } catch (...) {
        err = errorText(std::current_exception());
      }
    }
    std::vector<std::pair<std::shared_ptr<EnvLink>, int64_t>> ws;
    {
      std::lock_guard<std::mutex> lock(m);
      if (done) return;
      error = std::move(err);
      done = true;
      ws.swap(waiters);
    }
    cv.notify_all();
    for (auto& [link, id] : ws) {
      std::lock_guard<std::mutex> lock(link->m);
      if (link->tsfn) {
        auto* s = new Settle{shared_from_this(), id};
        if (napi_call_threadsafe_function(link->tsfn, s, napi_tsfn_nonblocking) != napi_ok) delete s;
      }
    }
  }

  void waitDone() {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return done; });
  }
};

void settle(napi_env env, EnvLink& link, const Job& job, int64_t id) {
  auto it = link.deferreds.find(id);
  if (it == link.deferreds.end()) return;
  napi_deferred deferred = it->second;
  link.deferreds.erase(it);
  if (link.deferreds.empty()) {
    std::lock_guard<std::mutex> lock(link.m);
    if (link.tsfn) napi_unref_threadsafe_function(env, link.tsfn);
  }
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  if (job.error.empty()) {
    napi_value v;
    napi_create_double(env, job.sourceRank, &v);
    napi_resolve_deferred(env, deferred, v);
  } else {
    napi_reject_deferred(env, deferred, makeTorchError(env, link.inst, job.op, job.error));
  }
  napi_close_handle_scope(env, scope);
}

// Calls job->finish once every work has completed: through the works' futures, or (for works without
// one, such as gloo's point-to-point works in 1.13) on a waiter thread.
void whenDone(const std::shared_ptr<Job>& job, Works works) {
  std::vector<intrusive_ptr<c10::ivalue::Future>> futures;
  try {
    for (auto& w : works) futures.push_back(w->getFuture());
  } catch (...) {
    futures.clear();
  }
  if (futures.size() == works.size()) {
    struct Count {
      std::mutex m;
      size_t left;
      std::string error;
    };
    auto count = std::make_shared<Count>();
    count->left = futures.size();
    for (auto& f : futures) {
      f->addCallback([job, count](c10::ivalue::Future& fut) {
        std::string err = fut.hasError() ? fut.tryRetrieveErrorMessage() : std::string();
        bool last;
        {
          std::lock_guard<std::mutex> lock(count->m);
          if (count->error.empty()) count->error = err;
          last = --count->left == 0;
        }
        if (last) job->finish(count->error);
      });
    }
    return;
  }
  std::thread([job, works = std::move(works)]() {
    std::string err;
    for (auto& w : works) {
      try {
        w->wait();
      } catch (...) {
        if (err.empty()) err = errorText(std::current_exception());
      }
    }
    job->finish(err);
  }).detach();
}

// Starts a job on this thread; completion is reported through finish().
void launch(const std::shared_ptr<Job>& job) {
  Works works;
  try {
    works = job->start(*job);
  } catch (...) {
    job->finish(errorText(std::current_exception()));
    return;
  }
  if (works.empty()) job->finish("");
  else whenDone(job, std::move(works));
}

// A FIFO of jobs served by one thread (started on first use).
class Queue {
 public:
  ~Queue() { stop(); }

  // Claims the queue for the calling thread when nothing is queued or running (release() when done).
  bool reserve() {
    std::lock_guard<std::mutex> lock(m_);
    if (!q_.empty() || busy_) return false;
    busy_ = true;
    return true;
  }
  void release() {
    std::lock_guard<std::mutex> lock(m_);
    busy_ = false;
    cv_.notify_all();
  }
  void push(const std::shared_ptr<Job>& job) {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (!stopping_) {
        q_.push_back(job);
        if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
        cv_.notify_all();
        return;
      }
    }
    job->finish("the process group was destroyed");
  }
  // Waits until every queued job has been started.
  void drain() {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return q_.empty() && !busy_; });
  }
  // Starts what is queued, then ends the thread.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stopping_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    else if (thread_.joinable()) thread_.detach();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      cv_.wait(lock, [&] { return (stopping_ && q_.empty()) || (!q_.empty() && !busy_); });
      if (q_.empty()) return;
      auto job = q_.front();
      q_.pop_front();
      busy_ = true;
      lock.unlock();
      launch(job);
      lock.lock();
      busy_ = false;
      cv_.notify_all();
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> q_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------- groups

struct Group {
  intrusive_ptr<c10d::ProcessGroup> pg;
  intrusive_ptr<c10d::ProcessGroup> checker;  // private gloo group of the collective checks; null: none
  int rank = 0;
  int size = 0;
  std::string backend;
  Queue collectives;
  Queue receives;
};

std::mutex groupsMutex;
auto& groups = *new std::unordered_map<int64_t, std::shared_ptr<Group>>();  // never destroyed (see top)
int64_t nextGroupId = 1;

std::shared_ptr<Group> groupArg(Ctx& c, size_t i) {
  int64_t id = c.int64(i);
  std::lock_guard<std::mutex> lock(groupsMutex);
  auto it = groups.find(id);
  if (it == groups.end()) throw ArgError("the process group was destroyed (destroyProcessGroup)");
  return it->second;
}

// Devices for gloo as Python's ProcessGroupGloo(store, rank, size, timeout) creates them: one per interface
// in GLOO_SOCKET_IFNAME, else the one this host's name resolves to.
intrusive_ptr<c10d::ProcessGroupGloo::Options> glooOptions(milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  const char* ifnames = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifnames != nullptr && std::strlen(ifnames) > 1) {
    std::stringstream list(ifnames);
    std::string iface;
    while (std::getline(list, iface, ',')) {
      if (!iface.empty()) options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
    }
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  options->threads = static_cast<int>(options->devices.size() * 2);
  return options;
}

intrusive_ptr<c10d::ProcessGroup> newGloo(const intrusive_ptr<c10d::Store>& pgStore,
                                          const intrusive_ptr<c10d::Store>& backendStore, int rank, int size,
                                          milliseconds timeout, const std::string& name,
                                          const std::vector<uint64_t>& globalRanks) {
  auto options = glooOptions(timeout);
  compat::setBackendIdentity(*options, globalRanks, name);
  auto backend = c10::make_intrusive<c10d::ProcessGroupGloo>(backendStore, rank, size, options);
  return compat::groupOf(pgStore, rank, size, backend, false);
}

// newGroup(backend, pgStore, backendStore, rank, size, timeoutMs, name, desc, globalRanks, checkStore | null)
// -> group id. The backend is built as Python's _new_process_group_helper builds it; with a check store, a
// private gloo group over it fingerprints the collectives.
napi_value NewGroup(Ctx& c) {
  std::string backendName = c.string(0);
  auto& pgStore = storeArg(c, 1);
  auto& backendStore = storeArg(c, 2);
  int rank = static_cast<int>(c.int64(3));
  int size = static_cast<int>(c.int64(4));
  milliseconds timeout(c.int64(5));
  std::string name = c.string(6);
  std::string desc = c.string(7);
  std::vector<uint64_t> globalRanks;
  for (int64_t r : c.intList(8)) globalRanks.push_back(static_cast<uint64_t>(r));
  auto g = std::make_shared<Group>();
  g->rank = rank;
  g->size = size;
  g->backend = backendName;
  if (backendName == "gloo") {
    g->pg = newGloo(pgStore, backendStore, rank, size, timeout, name, globalRanks);
  } else if (backendName == "nccl") {
#ifdef TORCHKD_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create(false);
    options->timeout = timeout;
    compat::setBackendIdentity(*options, globalRanks, name);
    auto backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(backendStore, rank, size, options);
    g->pg = compat::groupOf(pgStore, rank, size, backend, true);
#else
    throw std::runtime_error("Distributed package doesn't have NCCL built in (torchkd was built without CUDA or "
                             "without NCCL's header)");
#endif
  } else {
    throw ArgError("unknown backend '" + backendName + "' (gloo, nccl)");
  }
  compat::nameGroup(*g->pg, name, desc);
  if (!c.isNullish(9)) {
    auto& checkStore = storeArg(c, 9);
    g->checker = newGloo(checkStore, checkStore, rank, size, timeout, name + ":check", globalRanks);
  }
  std::lock_guard<std::mutex> lock(groupsMutex);
  int64_t id = nextGroupId++;
  groups[id] = g;
  return c.ret(static_cast<double>(id));
}

// setSequenceNumber(group): the backend's initial sequence number (1.13: agreed through the store).
napi_value SetSequenceNumber(Ctx& c) {
  auto g = groupArg(c, 0);
#if TKD_TORCH_AT_LEAST(2, 0)
  g->pg->getDefaultBackend()->setSequenceNumberForGroup();
#else
  g->pg->setSequenceNumberForGroup();
#endif
  return c.undefined();
}

// destroyGroup(group): starts what is queued and drops the group (its backend shuts down when the last
// running op lets go of it).
napi_value DestroyGroup(Ctx& c) {
  int64_t id = c.int64(0);
  std::shared_ptr<Group> g;
  {
    std::lock_guard<std::mutex> lock(groupsMutex);
    auto it = groups.find(id);
    if (it == groups.end()) return c.undefined();
    g = it->second;
    groups.erase(it);
  }
  g->collectives.stop();
  g->receives.stop();
  return c.undefined();
}

// ---------------------------------------------------------------------------------------- fingerprints

enum OpCode : int64_t {
  kAllReduce = 1, kBroadcast, kReduce, kAllGather, kAllGatherIntoTensor, kGather, kScatter, kReduceScatter,
  kReduceScatterTensor, kAllToAllSingle, kBarrier, kSend,
};

const char* opName(int64_t op) {
  switch (op) {
    case kAllReduce: return "allReduce";
    case kBroadcast: return "broadcast";
    case kReduce: return "reduce";
    case kAllGather: return "allGather";
    case kAllGatherIntoTensor: return "allGatherIntoTensor";
    case kGather: return "gather";
    case kScatter: return "scatter";
    case kReduceScatter: return "reduceScatter";
    case kReduceScatterTensor: return "reduceScatterTensor";
    case kAllToAllSingle: return "allToAllSingle";
    case kBarrier: return "barrier";
    case kSend: return "send";
    default: return "an unknown op";
  }
}

const char* reduceOpName(int64_t op) {
  static const char* names[] = {"SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"};
  return op >= 0 && op < 8 ? names[op] : "?";
}

// [op, dtype, device type, ndim, 8 sizes (the 8th: a hash of the rest beyond 8 dims), reduce op, root,
//  list length, numel]; -1 where a field does not apply.
constexpr int kFp = 16;
using Fingerprint = std::array<int64_t, kFp>;

Fingerprint fingerprint(int64_t op, const at::Tensor* t, int64_t reduceOp = -1, int64_t root = -1,
                        int64_t listLength = -1) {
  Fingerprint f;
  f.fill(-1);
  f[0] = op;
  if (t != nullptr && t->defined()) {
    f[1] = static_cast<int64_t>(t->scalar_type());
    f[2] = static_cast<int64_t>(t->device().type());
    auto sizes = t->sizes();
    f[3] = static_cast<int64_t>(sizes.size());
    for (size_t k = 0; k < sizes.size() && k < 8; k++) f[4 + k] = sizes[k];
    if (sizes.size() > 8) {
      int64_t h = 1469598103934665603LL;
      for (size_t k = 7; k < sizes.size(); k++) h = (h ^ sizes[k]) * 1099511628211LL;
      f[11] = h;
    }
    f[15] = t->numel();
  }
  f[12] = reduceOp;
  f[13] = root;
  f[14] = listLength;
  return f;
}

// "float32[2, 3]" (and " on cuda" off the CPU).
std::string tensorText(const Fingerprint& f) {
  std::ostringstream o;
  o << dtypeName(static_cast<at::ScalarType>(f[1])) << "[";
  for (int64_t k = 0; k < f[3] && k < 8; k++) o << (k ? ", " : "") << (k == 7 && f[3] > 8 ? -1 : f[4 + k]);
  if (f[3] > 8) o << ", ...";
  o << "]";
  if (f[2] != static_cast<int64_t>(c10::kCPU)) o << " on " << c10::DeviceTypeName(static_cast<c10::DeviceType>(f[2]), true);
  return o.str();
}

std::string describe(const Fingerprint& f) {
  std::ostringstream o;
  o << opName(f[0]) << "(";
  if (f[1] >= 0) o << tensorText(f);
  if (f[12] >= 0) o << ", op=" << reduceOpName(f[12]);
  if (f[13] >= 0) o << (f[0] == kSend ? ", tag=" : ", root=") << f[13];
  if (f[14] >= 0) o << ", " << f[14] << " tensors";
  o << ")";
  return o.str();
}

at::Tensor fingerprintTensor(const Fingerprint& f) {
  return at::from_blob(const_cast<int64_t*>(f.data()), {kFp}, at::kLong).clone();
}

Fingerprint readFingerprint(const at::Tensor& t) {
  Fingerprint f;
  std::memcpy(f.data(), t.data_ptr<int64_t>(), sizeof(f));
  return f;
}

// Throws unless every rank of the group is at a collective with the same fingerprint.
void checkCollective(Group& g, const Fingerprint& mine) {
  if (!g.checker) return;
  std::vector<at::Tensor> in{fingerprintTensor(mine)};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < g.size; r++) out[0].push_back(at::empty({kFp}, at::kLong));
  try {
    g.checker->allgather(out, in)->wait();
  } catch (...) {
    throw std::runtime_error(errorText(std::current_exception()) +
                             " (while checking that every rank called the same collective)");
  }
  std::ostringstream diff;
  bool same = true;
  for (int r = 0; r < g.size; r++) {
    Fingerprint theirs = readFingerprint(out[0][r]);
    if (theirs != mine) same = false;
    diff << (r ? ", " : "") << "rank " << r << ": " << describe(theirs);
  }
  if (!same) {
    throw std::runtime_error("the ranks called different collectives or passed different tensors (" + diff.str() +
                             "); every rank must call the same collectives in the same order, with tensors of "
                             "the same shape and dtype");
  }
}

// Runs a collective job synchronously: on this thread when the group's queue is idle, else after the jobs
// queued before it. Throws the job's error.
void runCollectiveSync(Group& g, const std::shared_ptr<Job>& job) {
  if (g.collectives.reserve()) {
    Works works;
    try {
      works = job->start(*job);
    } catch (...) {
      g.collectives.release();
      throw;
    }
    g.collectives.release();
    for (auto& w : works) w->wait();
    return;
  }
  g.collectives.push(job);
  job->waitDone();
  if (!job->error.empty()) throw std::runtime_error(job->error);
}

// The end of every collective entry point: runs the op now, or returns its work handle (asyncOp).
napi_value collective(Ctx& c, const std::shared_ptr<Group>& g, bool async, std::function<Works(Job&)> start) {
  auto job = std::make_shared<Job>();
  job->op = c.op->name;
  job->start = std::move(start);
  if (!async) {
    runCollectiveSync(*g, job);
    return c.undefined();
  }
  g->collectives.push(job);
  return box(c.env, job, kWorkTag);
}

c10d::ReduceOp reduceOpArg(Ctx& c, size_t i) {
  int64_t op = c.int64(i);
  if (op < 0 || op > 7) throw ArgError("argument " + c.argName(i) + " is not a ReduceOp");
  return c10d::ReduceOp(static_cast<c10d::ReduceOp::RedOpType>(op));
}

// allReduce(group, tensor, op, async)
napi_value AllReduce(Ctx& c) {
  auto g = groupArg(c, 0);
  at::Tensor t = c.tensor(1);
  int64_t opCode = c.int64(2);
  c10d::ReduceOp op = reduceOpArg(c, 2);
  bool async = c.boolean(3);
  return collective(c, g, async, [g, t, op, opCode](Job&) -> Works {
    checkCollective(*g, fingerprint(kAllReduce, &t, opCode));
    std::vector<at::Tensor> v{t};
    c10d::AllreduceOptions o;
    o.reduceOp = op;
    return {g->pg->allreduce(v, o)};
  });
}

// broadcast(group, tensor, src, async)
napi_value Broadcast(Ctx& c) {
  auto g = groupArg(c, 0);
  at::Tensor t = c.tensor(1);
  int64_t src = c.int64(2);
  bool async = c.boolean(3);
  return collective(c, g, async, [g, t, src](Job&) -> Works {
    checkCollective(*g, fingerprint(kBroadcast, &t, -1, src));
    std::vector<at::Tensor> v{t};
    c10d::BroadcastOptions o;
    o.rootRank = src;
    return {g->pg->broadcast(v, o)};
  });
}

// reduce(group, tensor, dst, op, async)
napi_value Reduce(Ctx& c) {
  auto g = groupArg(c, 0);
  at::Tensor t = c.tensor(1);
  int64_t dst = c.int64(2);
  int64_t opCode = c.int64(3);
  c10d::ReduceOp op = reduceOpArg(c, 3);
  bool async = c.boolean(4);
  return collective(c, g, async, [g, t, dst, op, opCode](Job&) -> Works {
    checkCollective(*g, fingerprint(kReduce, &t, opCode, dst));
    std::vector<at::Tensor> v{t};
    c10d::ReduceOptions o;
    o.reduceOp = op;
    o.rootRank = dst;
    return {g->pg->reduce(v, o)};
  });
}

// allGather(group, outputs, input, async)
napi_value AllGather(Ctx& c) {
  auto g = groupArg(c, 0);
  std::vector<at::Tensor> outputs = c.tensorList(1);
  at::Tensor input = c.tensor(2);
  bool async = c.boolean(3);
  return collective(c, g, async, [g, outputs, input](Job&) -> Works {
    checkCollective(*g, fingerprint(kAllGather, &input, -1, -1, static_cast<int64_t>(outputs.size())));
    std::vector<std::vector<at::Tensor>> out{outputs};
    std::vector<at::Tensor> in{input};
    return {g->pg->allgather(out, in)};
  });
}

// allGatherIntoTensor(group, output, input, async)
napi_value AllGatherIntoTensor(Ctx& c) {
  auto g = groupArg(c, 0);
  at::Tensor output = c.tensor(1);
  at::Tensor input = c.tensor(2);
  bool async = c.boolean(3);
  return collective(c, g, async, [g, output, input](Job&) mutable -> Works {
    checkCollective(*g, fingerprint(kAllGatherIntoTensor, &input));
    return {compat::allGatherIntoTensor(*g->pg, output, input)};
  });
}

// gather(group, input, outputs (on dst) | null, dst, async)
napi_value Gather(Ctx& c) {
  auto g = groupArg(c, 0);
  at::Tensor input = c.tensor(1);
  std::vector<at::Tensor> outputs;
  if (!c.isNullish(2)) outputs = c.tensorList(2);
  int64_t dst = c.int64(3);
  bool async = c.boolean(4);
  return collective(c, g, async, [g, input, outputs, dst](Job&) -> Works {
    checkCollective(*g, fingerprint(kGather, &input, -1, dst));
    std::vector<std::vector<at::Tensor>> out;
    if (g->rank == dst) out.push_back(outputs);
    std::vector<at::Tensor> in{input};
    c10d::GatherOptions o;
    o.rootRank = dst;
    return {g->pg->gather(out, in, o)};
  });
}

// scatter(group, output, inputs (on src) | null, src, async)
napi_value Scatter(Ctx& c) {
  auto g = groupArg(c, 0);
  at::Tensor output = c.tensor(1);
  std::vector<at::Tensor> inputs;
  if (!c.isNullish(2)) inputs = c.tensorList(2);
  int64_t src = c.int64(3);
  bool async = c.boolean(4);
  return collective(c, g, async, [g, output, inputs, src](Job&) -> Works {
    checkCollective(*g, fingerprint(kScatter, &output, -1, src));
    std::vector<at::Tensor> out{output};
    std::vector<std::vector<at::Tensor>> in;
    if (g->rank == src) in.push_back(inputs);
    c10d::ScatterOptions o;
    o.rootRank = src;
    return {g->pg->scatter(out, in, o)};
  });
}

// reduceScatter(group, output, inputs, op, async)
napi_value ReduceScatter(Ctx& c) {
  auto g = groupArg(c, 0);
  at::Tensor output = c.tensor(1);
  std::vector<at::Tensor> inputs = c.tensorList(2);
  int64_t opCode = c.int64(3);
  c10d::ReduceOp op = reduceOpArg(c, 3);
  bool async = c.boolean(4);
  return collective(c, g, async, [g, output, inputs, op, opCode](Job&) -> Works {
    checkCollective(*g, fingerprint(kReduceScatter, &output, opCode, -1, static_cast<int64_t>(inputs.size())));
    std::vector<at::Tensor> out{output};
    std::vector<std::vector<at::Tensor>> in{inputs};
    c10d::ReduceScatterOptions o;
    o.reduceOp = op;
    return {g->pg->reduce_scatter(out, in, o)};
  });
}

// reduceScatterTensor(group, output, input, op, async)
napi_value ReduceScatterTensor(Ctx& c) {
  auto g = groupArg(c, 0);
  at::Tensor output = c.tensor(1);
  at::Tensor input = c.tensor(2);
  int64_t opCode = c.int64(3);
  c10d::ReduceOp op = reduceOpArg(c, 3);
  bool async = c.boolean(4);
  return collective(c, g, async, [g, output, input, op, opCode](Job&) mutable -> Works {
    checkCollective(*g, fingerprint(kReduceScatterTensor, &input, opCode));
    c10d::ReduceScatterOptions o;
    o.reduceOp = op;
    return {compat::reduceScatterTensor(*g->pg, output, input, o)};
  });
}

// allToAllSingle(group, output, input, outputSplitSizes, inputSplitSizes, async)
napi_value AllToAllSingle(Ctx& c) {
  auto g = groupArg(c, 0);
  at::Tensor output = c.tensor(1);
  at::Tensor input = c.tensor(2);
  std::vector<int64_t> outSplits = c.intList(3);
  std::vector<int64_t> inSplits = c.intList(4);
  bool async = c.boolean(5);
  return collective(c, g, async, [g, output, input, outSplits, inSplits](Job&) mutable -> Works {
    // Split sizes may differ by rank; the dtype and the trailing dims may not.
    at::Tensor like = input.defined() && input.dim() > 0 ? input.select(0, 0) : input;
    checkCollective(*g, fingerprint(kAllToAllSingle, &like));
    return {compat::allToAllSingle(*g->pg, output, input, outSplits, inSplits)};
  });
}

// barrier(group, async)
napi_value Barrier(Ctx& c) {
  auto g = groupArg(c, 0);
  bool async = c.boolean(1);
  return collective(c, g, async, [g](Job&) -> Works {
    checkCollective(*g, fingerprint(kBarrier, nullptr));
    c10d::BarrierOptions o;
    return {g->pg->barrier(o)};
  });
}

// ---------------------------------------------------------------------------------------- point to point

// send(group, tensor, dst, tag, async): with checks, the fingerprint goes first on the check group (both
// sends are posted from this thread, so they keep their order).
napi_value Send(Ctx& c) {
  auto g = groupArg(c, 0);
  at::Tensor t = c.tensor(1);
  int dst = static_cast<int>(c.int64(2));
  int tag = static_cast<int>(c.int64(3));
  bool async = c.boolean(4);
  auto job = std::make_shared<Job>();
  job->op = c.op->name;
  job->start = [g, t, dst, tag](Job&) -> Works {
    Works works;
    if (g->checker) {
      std::vector<at::Tensor> fp{fingerprintTensor(fingerprint(kSend, &t, -1, tag))};
      works.push_back(g->checker->send(fp, dst, tag));
    }
    std::vector<at::Tensor> v{t};
    works.push_back(g->pg->send(v, dst, tag));
    return works;
  };
  if (!async) {
    for (auto& w : job->start(*job)) w->wait();
    return c.undefined();
  }
  launch(job);
  return box(c.env, job, kWorkTag);
}

// A checked receive, all of it on the calling thread: the sender's fingerprint, then the data. A sender
// whose tensor does not match is still received (into scratch memory, so the next op finds the channel
// clean) before the error.
Works checkedRecv(Group& g, Job& job, at::Tensor t, int src, int tag) {
  std::vector<at::Tensor> fp{at::empty({kFp}, at::kLong)};
  auto w = src >= 0 ? g.checker->recv(fp, src, tag) : g.checker->recvAnysource(fp, tag);
  w->wait();
  int from = src >= 0 ? src : w->sourceRank();
  Fingerprint theirs = readFingerprint(fp[0]);
  Fingerprint mine = fingerprint(kSend, &t, -1, tag);
  if (theirs[0] != kSend || theirs[1] != mine[1] || theirs[15] != mine[15]) {
    if (theirs[0] == kSend && theirs[1] >= 0) {
      std::vector<at::Tensor> scratch{at::empty({theirs[15]}, at::TensorOptions()
                                                                   .dtype(static_cast<at::ScalarType>(theirs[1]))
                                                                   .device(t.device()))};
      g.pg->recv(scratch, from, tag)->wait();
    }
    throw std::runtime_error("rank " + std::to_string(from) + " sent " +
                             (theirs[0] == kSend && theirs[1] >= 0 ? tensorText(theirs) : "something else") +
                             " but this rank receives into " + tensorText(mine) + " (tag " + std::to_string(tag) +
                             "): the tensors must have the same dtype and number of elements");
  }
  std::vector<at::Tensor> v{t};
  g.pg->recv(v, from, tag)->wait();
  job.sourceRank = from;
  return {};
}

// recv(group, tensor, src (-1: any), tag, async) -> the sender's rank (sync) or a work handle
napi_value Recv(Ctx& c) {
  auto g = groupArg(c, 0);
  at::Tensor t = c.tensor(1);
  int src = static_cast<int>(c.int64(2));
  int tag = static_cast<int>(c.int64(3));
  bool async = c.boolean(4);
  auto job = std::make_shared<Job>();
  job->op = c.op->name;
  if (g->checker) {
    job->start = [g, t, src, tag](Job& j) { return checkedRecv(*g, j, t, src, tag); };
    if (!async) {
      if (g->receives.reserve()) {
        try {
          job->start(*job);
        } catch (...) {
          g->receives.release();
          throw;
        }
        g->receives.release();
      } else {
        g->receives.push(job);
        job->waitDone();
        if (!job->error.empty()) throw std::runtime_error(job->error);
      }
      return c.ret(static_cast<double>(job->sourceRank));
    }
    g->receives.push(job);
    return box(c.env, job, kWorkTag);
  }
  job->start = [g, t, src, tag](Job& j) -> Works {
    std::vector<at::Tensor> v{t};
    if (src >= 0) {
      j.sourceRank = src;
      return {g->pg->recv(v, src, tag)};
    }
    j.from = g->pg->recvAnysource(v, tag);
    return {j.from};
  };
  if (!async) {
    for (auto& w : job->start(*job)) w->wait();
    return c.ret(static_cast<double>(job->from ? job->from->sourceRank() : job->sourceRank));
  }
  launch(job);
  return box(c.env, job, kWorkTag);
}

// ------------------------------------------------------------------------------------------ work handles

// workWait(work) -> Promise<sender rank or -1>, settled on the JS thread without blocking it.
napi_value WorkWait(Ctx& c) {
  auto job = unbox<Job>(c, 0, kWorkTag, "a distributed Work");
  napi_deferred deferred;
  napi_value promise;
  napi_create_promise(c.env, &deferred, &promise);
  {
    std::unique_lock<std::mutex> lock(job->m);
    if (!job->done) {
      auto link = envLink(c.env, c.inst);
      int64_t id = link->nextId++;
      if (link->deferreds.empty()) napi_ref_threadsafe_function(c.env, link->tsfn);
      link->deferreds[id] = deferred;
      job->waiters.emplace_back(link, id);
      return promise;
    }
  }
  if (job->error.empty()) napi_resolve_deferred(c.env, deferred, c.ret(static_cast<double>(job->sourceRank)));
  else napi_reject_deferred(c.env, deferred, makeTorchError(c.env, c.inst, job->op, job->error));
  return promise;
}

// workIsCompleted(work) -> whether it finished (successfully or not)
napi_value WorkIsCompleted(Ctx& c) {
  auto job = unbox<Job>(c, 0, kWorkTag, "a distributed Work");
  std::lock_guard<std::mutex> lock(job->m);
  return c.retBool(job->done);
}

// workWaitSync(work) -> sender rank: blocks the calling thread until the work completes, then throws its error.
napi_value WorkWaitSync(Ctx& c) {
  auto job = unbox<Job>(c, 0, kWorkTag, "a distributed Work");
  job->waitDone();
  if (!job->error.empty()) throw std::runtime_error(job->error);
  return c.ret(static_cast<double>(job->sourceRank));
}

// -------------------------------------------------------------------------------------------------- stores

// tcpStore(host, port, worldSize | null, isServer, timeoutMs, waitForWorkers, multiTenant, useLibuv)
napi_value TcpStore(Ctx& c) {
  std::string host = c.string(0);
  int64_t port = c.int64(1);
  if (port < 0 || port > 65535) throw ArgError("port must have value from 0 to 65535 but was " + std::to_string(port));
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(port);
  if (!c.isNullish(2)) o.numWorkers = static_cast<std::size_t>(c.int64(2));
  o.isServer = c.boolean(3);
  o.timeout = milliseconds(c.int64(4));
  o.waitWorkers = c.boolean(5);
  o.multiTenant = c.boolean(6);
  compat::setUseLibuv(o, c.boolean(7));
  auto box_ = std::make_shared<StoreBox>();
  box_->store = c10::make_intrusive<c10d::TCPStore>(host, o);
  return box(c.env, box_, kStoreTag);
}

// fileStore(path, worldSize)
napi_value FileStore(Ctx& c) {
  std::string path = c.string(0);
  // c10d retries opening the file until its timeout (5 minutes) while the open fails: a path that can never
  // be opened (a NUL byte, a missing folder) is refused at once instead.
  if (path.empty() || path.find('\0') != std::string::npos) throw ArgError("FileStore: fileName must be a non-empty path without NUL bytes");
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::absolute(std::filesystem::path(path), ec).parent_path();
  if (ec || !std::filesystem::is_directory(parent, ec)) throw ArgError("FileStore: the folder of " + path + " does not exist");
  auto b = std::make_shared<StoreBox>();
  b->store = c10::make_intrusive<c10d::FileStore>(path, static_cast<int>(c.int64(1)));
  return box(c.env, b, kStoreTag);
}

napi_value HashStore(Ctx& c) {
  auto b = std::make_shared<StoreBox>();
  b->store = c10::make_intrusive<c10d::HashStore>();
  return box(c.env, b, kStoreTag);
}

// prefixStore(prefix, store)
napi_value PrefixStore(Ctx& c) {
  std::string prefix = c.string(0);
  auto b = std::make_shared<StoreBox>();
  b->store = c10::make_intrusive<c10d::PrefixStore>(prefix, storeArg(c, 1));
  return box(c.env, b, kStoreTag);
}

// A store value: a string (UTF-8) or a TypedArray / Buffer's bytes.
std::vector<uint8_t> bytesArg(Ctx& c, size_t i) {
  if (c.type(i) == napi_string) {
    std::string s = c.string(i);
    return std::vector<uint8_t>(s.begin(), s.end());
  }
  bool isTyped = false;
  if (i < c.argc) napi_is_typedarray(c.env, c.argv[i], &isTyped);
  if (!isTyped) throw ArgError("argument " + c.argName(i) + " must be a string or a Uint8Array");
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_get_typedarray_info(c.env, c.argv[i], &type, &length, &data, nullptr, nullptr);
  size_t elem = (type == napi_int8_array || type == napi_uint8_array || type == napi_uint8_clamped_array) ? 1
                : (type == napi_int16_array || type == napi_uint16_array)                                  ? 2
                : (type == napi_float64_array || type == napi_bigint64_array || type == napi_biguint64_array) ? 8
                                                                                                             : 4;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  return std::vector<uint8_t>(p, p + length * elem);
}

napi_value retBytes(Ctx& c, const std::vector<uint8_t>& v) {
  napi_value buffer;
  void* copy;
  napi_create_buffer_copy(c.env, v.size(), v.data(), &copy, &buffer);
  return buffer;
}

std::vector<std::string> stringList(Ctx& c, size_t i) {
  const std::string what = "argument " + c.argName(i);
  if (i >= c.argc) throw ArgError(what + " must be an array of strings");
  uint32_t n = c.arrayLength(c.argv[i], what + " must be an array of strings");
  std::vector<std::string> out;
  for (uint32_t k = 0; k < n; k++) {
    napi_value el = c.element(c.argv[i], k, what);
    size_t len;
    if (napi_get_value_string_utf8(c.env, el, nullptr, 0, &len) != napi_ok) {
      throw ArgError(what + " must be an array of strings");
    }
    std::string s(len, '\0');
    napi_get_value_string_utf8(c.env, el, &s[0], len + 1, &len);
    out.push_back(std::move(s));
  }
  return out;
}

napi_value StoreSet(Ctx& c) {
  storeArg(c, 0)->set(c.string(1), bytesArg(c, 2));
  return c.undefined();
}
napi_value StoreGet(Ctx& c) { return retBytes(c, storeArg(c, 0)->get(c.string(1))); }
napi_value StoreAdd(Ctx& c) { return c.ret(static_cast<double>(storeArg(c, 0)->add(c.string(1), c.int64(2)))); }
napi_value StoreCompareSet(Ctx& c) {
  return retBytes(c, storeArg(c, 0)->compareSet(c.string(1), bytesArg(c, 2), bytesArg(c, 3)));
}
// storeWait(store, keys, timeoutMs | null)
napi_value StoreWait(Ctx& c) {
  auto& s = storeArg(c, 0);
  auto keys = stringList(c, 1);
  if (c.isNullish(2)) s->wait(keys);
  else s->wait(keys, milliseconds(c.int64(2)));
  return c.undefined();
}
napi_value StoreCheck(Ctx& c) { return c.retBool(storeArg(c, 0)->check(stringList(c, 1))); }
napi_value StoreDeleteKey(Ctx& c) { return c.retBool(storeArg(c, 0)->deleteKey(c.string(1))); }
napi_value StoreNumKeys(Ctx& c) { return c.ret(static_cast<double>(storeArg(c, 0)->getNumKeys())); }
napi_value StoreSetTimeout(Ctx& c) {
  storeArg(c, 0)->setTimeout(milliseconds(c.int64(1)));
  return c.undefined();
}
napi_value StoreTimeout(Ctx& c) { return c.ret(static_cast<double>(storeArg(c, 0)->getTimeout().count())); }
// storePort(store) -> the TCPStore's port (the one bound when it was created with port 0)
napi_value StorePort(Ctx& c) {
  auto* tcp = dynamic_cast<c10d::TCPStore*>(storeArg(c, 0).get());
  if (tcp == nullptr) throw ArgError("port is only defined for a TCPStore");
  return c.ret(static_cast<double>(tcp->getPort()));
}

// --------------------------------------------------------------------------------------------------- DDP

struct ReducerBox {
  std::shared_ptr<Group> group;
  std::shared_ptr<c10d::Reducer> reducer;
};

c10d::Reducer& reducerArg(Ctx& c, size_t i, std::shared_ptr<Group>* group = nullptr) {
  auto& b = unbox<ReducerBox>(c, i, kReducerTag, "a DDP reducer");
  if (!b->reducer) throw ArgError("the DistributedDataParallel module was disposed");
  if (group) *group = b->group;
  return *b->reducer;
}

// ddpReducer(group, params, bucketSizeLimits, bucketBytesCap, findUnusedParameters, gradientAsBucketView,
// firstBucketBytesCap, paramNames): the bucket assignment and Reducer of Python's DDP._ddp_init_helper
// (buckets in reverse parameter order, so that they fill in the order backward produces gradients).
napi_value DdpReducer(Ctx& c) {
  auto g = groupArg(c, 0);
  std::vector<at::Tensor> params = c.tensorList(1);
  std::vector<size_t> limits;
  for (double d : c.doubleList(2)) limits.push_back(d >= 1.8446744073709552e19 ? SIZE_MAX : static_cast<size_t>(d));
  int64_t cap = c.int64(3);
  bool findUnused = c.boolean(4);
  bool asView = c.boolean(5);
  int64_t firstCap = c.int64(6);
  auto names = stringList(c, 7);
  std::vector<bool> sparse(params.size(), false);
  auto [buckets, perBucket] = c10d::compute_bucket_assignment_by_size(params, limits, sparse);
  std::reverse(buckets.begin(), buckets.end());
  std::reverse(perBucket.begin(), perBucket.end());
  std::unordered_map<size_t, std::string> nameMap;
  for (size_t k = 0; k < names.size(); k++) nameMap[k] = names[k];
  auto b = std::make_shared<ReducerBox>();
  b->group = g;
  b->reducer = compat::makeReducer(params, buckets, perBucket, g->pg, sparse, cap, findUnused, asView, nameMap, firstCap);
  return box(c.env, b, kReducerTag);
}

napi_value DdpPrepareForForward(Ctx& c) {
  std::shared_ptr<Group> g;
  c10d::Reducer& r = reducerArg(c, 0, &g);
  g->collectives.drain();
  r.prepare_for_forward();
  return c.undefined();
}

napi_value DdpRebuildBuckets(Ctx& c) {
  std::shared_ptr<Group> g;
  c10d::Reducer& r = reducerArg(c, 0, &g);
  g->collectives.drain();
  return c.retBool(r.rebuild_buckets());
}

// ddpPrepareForBackward(reducer, outputs): outputs are searched for unused parameters (findUnusedParameters).
napi_value DdpPrepareForBackward(Ctx& c) {
  c10d::Reducer& r = reducerArg(c, 0);
  r.prepare_for_backward(c.tensorList(1));
  return c.undefined();
}

napi_value DdpFree(Ctx& c) {
  unbox<ReducerBox>(c, 0, kReducerTag, "a DDP reducer")->reducer.reset();
  return c.undefined();
}

// verifyParams(group, params): Python's _verify_param_shape_across_processes.
napi_value VerifyParams(Ctx& c) {
  auto g = groupArg(c, 0);
  std::vector<at::Tensor> params = c.tensorList(1);
  g->collectives.drain();
  c10d::verify_params_across_processes(g->pg, params, {});
  return c.undefined();
}

// broadcastCoalesced(group, tensors, bufferSize, src): Python's _broadcast_coalesced (DDP's state sync).
napi_value BroadcastCoalesced(Ctx& c) {
  auto g = groupArg(c, 0);
  std::vector<at::Tensor> tensors;
  for (const at::Tensor& t : c.tensorList(1)) tensors.push_back(t.detach());  // as Python's module_states
  int64_t bufferSize = c.int64(2);
  int src = static_cast<int>(c.int64(3));
  g->collectives.drain();
  c10d::broadcast_coalesced(g->pg, tensors, static_cast<size_t>(bufferSize), src);
  return c.undefined();
}

napi_value Available(Ctx& c) {
  napi_value obj;
  napi_create_object(c.env, &obj);
  napi_set_named_property(c.env, obj, "gloo", c.retBool(true));
#ifdef TORCHKD_NCCL
  napi_set_named_property(c.env, obj, "nccl", c.retBool(true));
#else
  napi_set_named_property(c.env, obj, "nccl", c.retBool(false));
#endif
  return obj;
}

}  // namespace

void registerDistributed(Registrar& r) {
  r.def("distAvailable", Entry<Available>);
  r.def("distTcpStore", Entry<TcpStore>, {"hostName", "port", "worldSize", "isMaster", "timeout", "waitForWorkers", "multiTenant", "useLibuv"}, "distributed.TCPStore");
  r.def("distFileStore", Entry<FileStore>, {"fileName", "worldSize"}, "distributed.FileStore");
  r.def("distHashStore", Entry<HashStore>, {}, "distributed.HashStore");
  r.def("distPrefixStore", Entry<PrefixStore>, {"prefix", "store"}, "distributed.PrefixStore");
  r.def("distStoreSet", Entry<StoreSet>, {"store", "key", "value"}, "Store.set");
  r.def("distStoreGet", Entry<StoreGet>, {"store", "key"}, "Store.get");
  r.def("distStoreAdd", Entry<StoreAdd>, {"store", "key", "amount"}, "Store.add");
  r.def("distStoreCompareSet", Entry<StoreCompareSet>, {"store", "key", "expectedValue", "desiredValue"}, "Store.compareSet");
  r.def("distStoreWait", Entry<StoreWait>, {"store", "keys", "timeout"}, "Store.wait");
  r.def("distStoreCheck", Entry<StoreCheck>, {"store", "keys"}, "Store.check");
  r.def("distStoreDeleteKey", Entry<StoreDeleteKey>, {"store", "key"}, "Store.deleteKey");
  r.def("distStoreNumKeys", Entry<StoreNumKeys>, {"store"}, "Store.numKeys");
  r.def("distStoreSetTimeout", Entry<StoreSetTimeout>, {"store", "timeout"}, "Store.setTimeout");
  r.def("distStoreTimeout", Entry<StoreTimeout>, {"store"}, "Store.timeout");
  r.def("distStorePort", Entry<StorePort>, {"store"}, "TCPStore.port");
  r.def("distNewGroup", Entry<NewGroup>, {"backend", "store", "backendStore", "rank", "worldSize", "timeout", "groupName", "groupDesc", "globalRanks", "checkStore"}, "distributed.initProcessGroup");
  r.def("distSetSequenceNumber", Entry<SetSequenceNumber>, {"group"}, "distributed.initProcessGroup");
  r.def("distDestroyGroup", Entry<DestroyGroup>, {"group"}, "distributed.destroyProcessGroup");
  r.def("distAllReduce", Entry<AllReduce>, {"group", "tensor", "op", "asyncOp"}, "distributed.allReduce");
  r.def("distBroadcast", Entry<Broadcast>, {"group", "tensor", "src", "asyncOp"}, "distributed.broadcast");
  r.def("distReduce", Entry<Reduce>, {"group", "tensor", "dst", "op", "asyncOp"}, "distributed.reduce");
  r.def("distAllGather", Entry<AllGather>, {"group", "tensorList", "tensor", "asyncOp"}, "distributed.allGather");
  r.def("distAllGatherIntoTensor", Entry<AllGatherIntoTensor>, {"group", "outputTensor", "inputTensor", "asyncOp"}, "distributed.allGatherIntoTensor");
  r.def("distGather", Entry<Gather>, {"group", "tensor", "gatherList", "dst", "asyncOp"}, "distributed.gather");
  r.def("distScatter", Entry<Scatter>, {"group", "tensor", "scatterList", "src", "asyncOp"}, "distributed.scatter");
  r.def("distReduceScatter", Entry<ReduceScatter>, {"group", "output", "inputList", "op", "asyncOp"}, "distributed.reduceScatter");
  r.def("distReduceScatterTensor", Entry<ReduceScatterTensor>, {"group", "output", "input", "op", "asyncOp"}, "distributed.reduceScatterTensor");
  r.def("distAllToAllSingle", Entry<AllToAllSingle>, {"group", "output", "input", "outputSplitSizes", "inputSplitSizes", "asyncOp"}, "distributed.allToAllSingle");
  r.def("distBarrier", Entry<Barrier>, {"group", "asyncOp"}, "distributed.barrier");
  r.def("distSend", Entry<Send>, {"group", "tensor", "dst", "tag", "asyncOp"}, "distributed.send");
  r.def("distRecv", Entry<Recv>, {"group", "tensor", "src", "tag", "asyncOp"}, "distributed.recv");
  r.def("distWorkWait", Entry<WorkWait>, {"work"}, "Work.wait");
  r.def("distWorkWaitSync", Entry<WorkWaitSync>, {"work"}, "Work.waitSync");
  r.def("distWorkIsCompleted", Entry<WorkIsCompleted>, {"work"}, "Work.isCompleted");
  r.def("distDdpReducer", Entry<DdpReducer>, {"group", "params", "bucketSizeLimits", "bucketBytesCap", "findUnusedParameters", "gradientAsBucketView", "firstBucketBytesCap", "paramNames"}, "DistributedDataParallel");
  r.def("distDdpPrepareForForward", Entry<DdpPrepareForForward>, {"reducer"}, "DistributedDataParallel.forward");
  r.def("distDdpRebuildBuckets", Entry<DdpRebuildBuckets>, {"reducer"}, "DistributedDataParallel.forward");
  r.def("distDdpPrepareForBackward", Entry<DdpPrepareForBackward>, {"reducer", "outputs"}, "DistributedDataParallel.forward");
  r.def("distDdpFree", Entry<DdpFree>, {"reducer"}, "DistributedDataParallel.dispose");
  r.def("distVerifyParams", Entry<VerifyParams>, {"group", "params"}, "DistributedDataParallel");
  r.def("distBroadcastCoalesced", Entry<BroadcastCoalesced>, {"group", "tensors", "bufferSize", "src"}, "DistributedDataParallel");
}

}  // namespace tkd
