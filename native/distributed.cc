// Data parallelism on LibTorch's c10d (see distributed.h). What runs where:
//   ProcessGroup (JS object): a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT (rank 0 serves it),
//     then c10d's ProcessGroupGloo over it (CPU), or ProcessGroupNCCL where this LibTorch has CUDA and
//     NCCL. Every collective waits at most the group's timeout: a rank that died ends its peers'
//     collectives at once (Gloo sees the closed connection), one that stalls ends them after it.
//   GradReducer (a model's GradSync): buckets over the flat gradient buffers (adamw.h's ParamGroup),
//     each a contiguous range of whole trainable parameters, in backward order. On the step's last
//     micro-batch a post-hook on each parameter's gradient accumulator counts the bucket down, and a
//     full bucket starts its all-reduce while the backward pass goes on (DDP's reducer does the same);
//     buckets start strictly in order, so every rank issues the same collectives in the same order.
//     Where the hooks cannot see the buffers (an adapter trains: its own groups), buckets over the
//     trainable runs start after backward.
#include "distributed.h"

#include "bert.h"
#include "native_object.h"

#include <chrono>
#include <mutex>

// Set by CMakeLists.txt where Gloo's headers (libgloo-dev) and NCCL are found.
#ifndef ROOTS_WITH_C10D
#define ROOTS_WITH_C10D 0
#endif
#ifndef ROOTS_WITH_NCCL
#define ROOTS_WITH_NCCL 0
#endif

#if ROOTS_WITH_C10D
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if ROOTS_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace roots {

namespace {

using Millis = std::chrono::milliseconds;

#if ROOTS_WITH_C10D
// 2.x split the collectives into c10d::Backend (ProcessGroupGloo is one); 1.13's groups are ProcessGroups.
#if ROOTS_TORCH_AT_LEAST(2, 0)
using C10dGroup = c10d::Backend;
#else
using C10dGroup = c10d::ProcessGroup;
#endif
#endif

std::string Seconds(Millis t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(t.count()) / 1000.0);
  return buf;
}

}  // namespace

// A connected (or not yet connected) process group: the payload of the JS ProcessGroup.
struct DistGroup {
  int rank = 0, world = 1;
  std::string addr, backend;
  int port = 0;
  Millis timeout{0};
  torch::Device device{torch::kCPU};
  bool connected = false;
#if ROOTS_WITH_C10D
  c10::intrusive_ptr<c10d::Store> store;  // roots' own keys (the config and data hash)
  c10::intrusive_ptr<C10dGroup> pg;
#endif

  std::string who() const { return "rank " + std::to_string(rank) + " of " + std::to_string(world); }

  [[noreturn]] void fail(const std::string& what, const std::exception& e) const {
    std::string msg = e.what();
    if (auto* c = dynamic_cast<const c10::Error*>(&e)) msg = c->what_without_backtrace();
    auto nl = msg.find('\n');
    if (nl != std::string::npos) msg = msg.substr(0, nl);
    throw RootsException("ERR_DISTRIBUTED", who() + ": " + what + " failed: " + msg + ". Another rank died or stalled " +
                         "(a dead rank ends the others' collectives at once, a stalled one after the timeout of " +
                         Seconds(timeout) + " s: --dist-timeout / ROOTS_DIST_TIMEOUT)");
  }

#if ROOTS_WITH_C10D
  void connect();
  void wait(const c10::intrusive_ptr<c10d::Work>& w, const char* what) const {
    try {
      if (!w->wait(timeout)) throw std::runtime_error("no result");
    } catch (const RootsException&) {
      throw;
    } catch (const std::exception& e) {
      fail(what, e);
    }
  }
  // In-place sum over the ranks.
  void allreduce(torch::Tensor t, const char* what) const {
    std::vector<at::Tensor> v{std::move(t)};
    c10::intrusive_ptr<c10d::Work> w;
    try {
      w = pg->allreduce(v);
    } catch (const std::exception& e) {
      fail(what, e);
    }
    wait(w, what);
  }
#endif
};

#if ROOTS_WITH_C10D
namespace {

bool IsLoopback(const std::string& a) { return a == "localhost" || a.rfind("127.", 0) == 0 || a == "::1"; }

// Gloo's transport device: GLOO_SOCKET_IFNAME's interface (as PyTorch reads it), loopback when the
// master is on this machine's loopback, else the address this machine's hostname resolves to.
std::shared_ptr<::gloo::transport::Device> GlooDevice(const std::string& masterAddr) {
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname && *ifname) return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (IsLoopback(masterAddr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

void DistGroup::connect() {
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(port);
  o.isServer = rank == 0;
  o.numWorkers = static_cast<std::size_t>(world);
  o.waitWorkers = true;
  o.timeout = timeout;
  const std::string at = "MASTER_ADDR=" + addr + " MASTER_PORT=" + std::to_string(port);
  try {
    store = c10::make_intrusive<c10d::TCPStore>(addr, o);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto* c = dynamic_cast<const c10::Error*>(&e)) msg = c->what_without_backtrace();
    msg = msg.substr(0, msg.find('\n'));
    throw RootsException("ERR_DISTRIBUTED", who() + ": the rendezvous at " + at + " did not complete within " + Seconds(timeout) +
                         " s (" + msg + "). " +
                         (rank == 0 ? "Rank 0 serves it: is the port free, and did all " + std::to_string(world) + " ranks start (WORLD_SIZE)?"
                                    : "Is rank 0 running, and is " + addr + ":" + std::to_string(port) + " reachable from this machine?") +
                         " (--dist-timeout / ROOTS_DIST_TIMEOUT sets the wait)");
  }
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("roots/" + backend, store);
  try {
    if (backend == "gloo") {
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      opts->devices.push_back(GlooDevice(addr));
      pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, rank, world, opts);
    } else {
#if ROOTS_WITH_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, rank, world, opts);
#else
      throw RootsException("ERR_UNSUPPORTED", "backend 'nccl' needs an addon built against a LibTorch with CUDA and NCCL; use 'gloo'");
#endif
    }
  } catch (const RootsException&) {
    throw;
  } catch (const std::exception& e) {
    fail("connecting the " + backend + " process group at " + at, e);
  }
  connected = true;
}

// The gradient all-reduce of one model (see the file comment).
class GradReducer : public GradSync, public std::enable_shared_from_this<GradReducer> {
 public:
  GradReducer(std::shared_ptr<DistGroup> group, int64_t bucketBytes, bool overlap)
      : group_(std::move(group)), cap_(std::max<int64_t>(1, bucketBytes / 4)), overlap_(overlap) {}

  void beforeLastBackward(Bert& m, std::vector<ParamGroup>& groups) override {
    layout(m, groups);
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& b : buckets_) {
      b.pending = b.leaves;
      b.work.reset();
    }
    next_ = 0;
    early_ = 0;
    armed_ = overlap_ && hooked_;
  }

  void finish(std::vector<ParamGroup>& groups, torch::Tensor& loss, int64_t& tokens) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      armed_ = false;
      while (next_ < buckets_.size()) launch(next_++);
    }
    const double world = group_->world;
    for (auto& b : buckets_) {
      group_->wait(b.work, "the gradient all-reduce");
      b.work.reset();
      grads_[b.group].narrow(0, b.offset, b.numel).div_(world);
    }
    // (loss, tokens) summed in one small collective; the loss then averaged like the gradients.
    auto stats = torch::stack({loss.detach().reshape({}).to(torch::kFloat64),
                               torch::scalar_tensor(static_cast<double>(tokens), torch::kFloat64).to(loss.device())});
    group_->allreduce(stats, "the loss all-reduce");
    loss = (stats[0] / world).to(loss.scalar_type());
    tokens = static_cast<int64_t>(stats[1].item<double>());
  }

  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t launchedEarly() const { return early_; }
  bool hooked() const { return hooked_; }
  int64_t bucketBytes() const { return cap_ * 4; }

 private:
  struct Bucket {
    int group;
    int64_t offset, numel;
    int leaves = 0, pending = 0;
    size_t last = 0;  // the lowest leaf index: the bucket is complete when its gradient is
    c10::intrusive_ptr<c10d::Work> work;
  };

  void launch(size_t i) {
    Bucket& b = buckets_[i];
    std::vector<at::Tensor> v{grads_[b.group].narrow(0, b.offset, b.numel)};
    try {
      b.work = group_->pg->allreduce(v);
    } catch (const std::exception& e) {
      group_->fail("starting the gradient all-reduce", e);
    }
  }

  // Called by the autograd engine once leaf `li`'s gradient is accumulated.
  void ready(size_t li) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!armed_ || li >= leafBucket_.size() || leafBucket_[li] < 0) return;
    if (--buckets_[leafBucket_[li]].pending > 0) return;
    while (next_ < buckets_.size() && buckets_[next_].pending == 0) {
      launch(next_++);
      early_++;
    }
  }

  // Buckets for the groups' current layout (rebuilt when freezing or the training groups change).
  void layout(Bert& m, std::vector<ParamGroup>& groups) {
    std::vector<int64_t> sig;
    for (auto& g : groups) {
      sig.push_back(reinterpret_cast<int64_t>(g.grad.data_ptr()));
      for (const auto& r : g.runs) sig.insert(sig.end(), {r.offset, r.numel});
      sig.push_back(-1);
    }
    if (sig == sig_) return;
    sig_ = sig;
    std::lock_guard<std::mutex> lock(mu_);
    buckets_.clear();
    grads_.clear();
    for (auto& g : groups) grads_.push_back(g.grad);
    const auto& leaves = m.leaves();
    // The hooks see the base's leaves: usable when every trainable leaf's gradient is a view of its group's buffer.
    bool hookable = groups.size() == 2;
    for (const auto& l : leaves) {
      if (!hookable || !l.trainable) continue;
      const auto& gr = l.param.grad();
      hookable = gr.defined() && gr.data_ptr() == static_cast<void*>(grads_[l.group].data_ptr<float>() + l.offset);
    }
    leafBucket_.assign(leaves.size(), -1);
    if (hookable) {
      std::vector<int> open(groups.size(), -1);
      for (size_t i = leaves.size(); i-- > 0;) {
        const Leaf& l = leaves[i];
        int& o = open[l.group];
        if (!l.trainable) { o = -1; continue; }
        if (o >= 0 && buckets_[o].offset == l.offset + l.numel && buckets_[o].numel + l.numel <= cap_) {
          Bucket& b = buckets_[o];
          b.offset = l.offset;
          b.numel += l.numel;
          b.leaves++;
          b.last = i;
        } else {
          Bucket b;
          b.group = l.group, b.offset = l.offset, b.numel = l.numel, b.leaves = 1, b.last = i;
          buckets_.push_back(b);
          o = static_cast<int>(buckets_.size()) - 1;
        }
        leafBucket_[i] = o;
      }
      // The order the backward pass completes them in: by their lowest leaf, last layers first.
      std::vector<size_t> order(buckets_.size());
      for (size_t k = 0; k < order.size(); k++) order[k] = k;
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return buckets_[a].last > buckets_[b].last; });
      std::vector<int> where(buckets_.size());
      std::vector<Bucket> sorted;
      for (size_t k = 0; k < order.size(); k++) { where[order[k]] = static_cast<int>(k); sorted.push_back(buckets_[order[k]]); }
      buckets_ = std::move(sorted);
      for (auto& lb : leafBucket_) if (lb >= 0) lb = where[lb];
      // One post-hook per gradient accumulator, kept for the reducer's life (held here: the
      // autograd metadata keeps only a weak reference, so the same accumulator serves every step).
      std::weak_ptr<GradReducer> self = shared_from_this();
      for (size_t i = 0; i < leaves.size(); i++) {
        if (!leaves[i].trainable) continue;
        auto acc = torch::autograd::impl::grad_accumulator(leaves[i].param);
        if (!acc || !hookedNodes_.insert(acc.get()).second) continue;
        acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
            [self, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
              if (auto s = self.lock()) s->ready(i);
              return outputs;
            }));
        accumulators_.push_back(std::move(acc));
      }
    } else {
      for (size_t g = 0; g < groups.size(); g++)
        for (const auto& r : groups[g].runs)
          for (int64_t off = r.offset; off < r.offset + r.numel; off += cap_) {
            Bucket b;
            b.group = static_cast<int>(g), b.offset = off, b.numel = std::min(cap_, r.offset + r.numel - off);
            buckets_.push_back(b);
          }
    }
    hooked_ = hookable;
  }

  std::shared_ptr<DistGroup> group_;
  const int64_t cap_;  // elements per bucket (at least one whole parameter)
  const bool overlap_;
  std::mutex mu_;
  std::vector<int64_t> sig_;
  std::vector<torch::Tensor> grads_;
  std::vector<Bucket> buckets_;
  std::vector<int> leafBucket_;
  std::set<const void*> hookedNodes_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  size_t next_ = 0;
  int64_t early_ = 0;
  bool armed_ = false, hooked_ = false;
};
#endif  // ROOTS_WITH_C10D

// ---- JS: the ProcessGroup object --------------------------------------------------------------

namespace {

constexpr napi_type_tag kGroupTag = {0x726f6f7473706731ULL, 0x63313064676c6f6fULL};

[[maybe_unused]] std::string NotBuilt() {
  return "this addon was built without c10d's Gloo headers, so it cannot train across processes: install them "
         "(Debian: apt-get install libgloo-dev; scripts/setup-system.sh does it) and rebuild (npm run build:native)";
}

}  // namespace

class ProcessGroupWrap : public NativeObject<ProcessGroupWrap, DistGroup> {
 public:
  static constexpr const char* kKind = "processGroups";
  static constexpr const char* kName = "the process group";
  static int64_t HostBytes(const DistGroup&) { return 0; }

  static Napi::Function Init(Napi::Env env) {
    return Define(env, "ProcessGroup", {
      Method<&ProcessGroupWrap::Connect>("connect"),
      Method<&ProcessGroupWrap::AllReduce>("allreduce"),
      Method<&ProcessGroupWrap::StoreSet>("storeSet"),
      Method<&ProcessGroupWrap::StoreGet>("storeGet"),
      Getter<&ProcessGroupWrap::Rank>("rank"),
      Getter<&ProcessGroupWrap::WorldSize>("worldSize"),
      Getter<&ProcessGroupWrap::Connected>("connected"),
    });
  }

  // new ProcessGroup({ masterAddr, masterPort, rank, worldSize, timeoutMs, backend, device }): values
  // validated in TS (lib/distributed/env.ts); connect() does the rendezvous.
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info) : NativeObject(info) {
    Napi::Env env = info.Env();
    CallGuarded(env, [&] {
#if !ROOTS_WITH_C10D
      throw RootsException("ERR_UNSUPPORTED", NotBuilt());
#endif
      Napi::Object o = ArgObject(info, 0, "options");
      const char* w = "options";
      auto g = std::make_shared<DistGroup>();
      g->addr = RequireString(o, "masterAddr", w);
      g->port = static_cast<int>(RequireInt(o, "masterPort", w));
      g->rank = static_cast<int>(RequireInt(o, "rank", w));
      g->world = static_cast<int>(RequireInt(o, "worldSize", w));
      g->timeout = Millis(RequireInt(o, "timeoutMs", w));
      g->backend = RequireString(o, "backend", w);
      g->device = torch::Device(RequireString(o, "device", w));
      if (g->backend != "gloo" && g->backend != "nccl") throw RootsException("ERR_INVALID_ARG", "Expected 'gloo' or 'nccl' for options.backend but received '" + g->backend + "'");
      if (g->world < 1 || g->rank < 0 || g->rank >= g->world || g->port < 1 || g->port > 65535 || g->timeout.count() < 1)
        throw RootsException("ERR_INVALID_ARG", "Expected 0 <= rank < worldSize, a port in 1-65535 and a positive timeoutMs");
      napi_type_tag_object(env, info.This(), &kGroupTag);
      Adopt(std::move(g));
    });
  }

  // The connected group a JS value holds (type-tagged at construction: a look-alike object is refused).
  static std::shared_ptr<DistGroup> FromValue(Napi::Env env, const Napi::Value& v) {
    bool tagged = false;
    if (v.IsObject()) napi_check_object_type_tag(env, v, &kGroupTag, &tagged);
    if (!tagged) throw MakeError(env, "ERR_INVALID_ARG", "Expected a ProcessGroup but received " + DescribeValue(v));
    ProcessGroupWrap* w = Napi::ObjectWrap<ProcessGroupWrap>::Unwrap(v.As<Napi::Object>());
    w->Use(env);
    if (!w->payload()->connected) throw MakeError(env, "ERR_INVALID_ARG", "the process group is not connected: await group.connect() first");
    return w->payload();
  }

 private:
  Napi::Value Rank(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Use(info.Env()).rank); }
  Napi::Value WorldSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Use(info.Env()).world); }
  Napi::Value Connected(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), Use(info.Env()).connected); }

  DistGroup& Ready(Napi::Env env) {
    DistGroup& g = Use(env);
    if (!g.connected) throw MakeError(env, "ERR_INVALID_ARG", "the process group is not connected: await group.connect() first");
    return g;
  }

  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (Use(env).connected) throw MakeError(env, "ERR_INVALID_ARG", "the process group is already connected");
    auto g = payload();
    return Run(env, "roots.distributed.connect", [g] {
#if ROOTS_WITH_C10D
      g->connect();
#endif
    }, nullptr);
  }

  // allreduce(Float64Array): the element-wise sum over the ranks, as a new Float64Array.
  Napi::Value AllReduce(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Ready(env);
    Napi::Value v = info.Length() > 0 ? info[0] : env.Undefined();
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      throw MakeError(env, "ERR_INVALID_ARG", "Expected a Float64Array for values but received " + DescribeValue(v));
    auto a = v.As<Napi::Float64Array>();
    auto t = std::make_shared<torch::Tensor>(torch::from_blob(a.Data(), {static_cast<int64_t>(a.ElementLength())}, torch::kFloat64).clone());
    auto g = payload();
    return Run(env, "roots.distributed.allreduce", [g, t] {
#if ROOTS_WITH_C10D
      auto d = t->to(g->device);
      g->allreduce(d, "an all-reduce");
      *t = d.to(torch::kCPU);
#endif
    }, [t](Napi::Env env) -> Napi::Value {
      auto out = Napi::Float64Array::New(env, static_cast<size_t>(t->numel()));
      std::memcpy(out.Data(), t->data_ptr<double>(), t->numel() * sizeof(double));
      return out;
    });
  }

  Napi::Value StoreSet(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Ready(env);
    std::string key = ArgString(info, 0, "key"), value = ArgString(info, 1, "value");
    auto g = payload();
    return Run(env, "roots.distributed.storeSet", [g, key, value] {
#if ROOTS_WITH_C10D
      try {
        g->store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
      } catch (const std::exception& e) {
        g->fail("writing '" + key + "' to the rendezvous store", e);
      }
#endif
    }, nullptr);
  }

  // storeGet(key): waits up to the timeout for another rank to set it.
  Napi::Value StoreGet(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Ready(env);
    std::string key = ArgString(info, 0, "key");
    auto g = payload();
    auto out = std::make_shared<std::string>();
    return Run(env, "roots.distributed.storeGet", [g, key, out] {
#if ROOTS_WITH_C10D
      try {
        auto v = g->store->get(key);
        out->assign(v.begin(), v.end());
      } catch (const std::exception& e) {
        g->fail("reading '" + key + "' from the rendezvous store", e);
      }
#endif
    }, [out](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *out); });
  }
};

// ---- model.distributed(op, ...) ----------------------------------------------------------------

DistributedCallResult DistributedCall(const Napi::CallbackInfo& info, const std::shared_ptr<Bert>& model) {
  Napi::Env env = info.Env();
  const std::string op = ArgString(info, 0, "op");
  DistributedCallResult r{env.Undefined(), nullptr, nullptr};
#if !ROOTS_WITH_C10D
  if (op != "info") throw RootsException("ERR_UNSUPPORTED", NotBuilt());
  Napi::Object o = Napi::Object::New(env);
  o.Set("attached", false);
  r.value = o;
  return r;
#else
  Bert& m = *model;
  if (op == "attach") {  // attach(group, { bucketBytes, overlap })
    auto g = ProcessGroupWrap::FromValue(env, info.Length() > 1 ? info[1] : env.Undefined());
    Napi::Object o = ArgObject(info, 2, "options");
    const int64_t bytes = RequireInt(o, "bucketBytes", "options");
    if (bytes < 4) throw RootsException("ERR_INVALID_ARG", "Expected at least 4 for options.bucketBytes but received " + std::to_string(bytes));
    Napi::Value ov = o.Get("overlap");
    if (!ov.IsBoolean()) throw RootsException("ERR_INVALID_ARG", "Expected a boolean for options.overlap but received " + DescribeValue(ov));
    if (g->device != m.device()) throw RootsException("ERR_INVALID_ARG", "the process group's device (" + g->device.str() + ") differs from the model's (" + m.device().str() + ")");
    m.gradSync = std::make_shared<GradReducer>(g, bytes, ov.As<Napi::Boolean>().Value());
  } else if (op == "detach") {
    m.gradSync.reset();
  } else if (op == "info") {
    Napi::Object o = Napi::Object::New(env);
    auto red = std::dynamic_pointer_cast<GradReducer>(m.gradSync);
    o.Set("attached", red != nullptr);
    if (red) {
      o.Set("buckets", static_cast<double>(red->buckets()));
      o.Set("bucketBytes", static_cast<double>(red->bucketBytes()));
      o.Set("duringBackward", static_cast<double>(red->launchedEarly()));
      o.Set("hooks", red->hooked());
    }
    r.value = o;
  } else if (op == "broadcast") {  // rank 0's trained weights to every rank, in place (a job)
    auto g = ProcessGroupWrap::FromValue(env, info.Length() > 1 ? info[1] : env.Undefined());
    r.work = [model, g] {
      torch::NoGradGuard ng;
      for (auto& grp : model->groups()) {
        std::vector<at::Tensor> v{grp.data};
        c10::intrusive_ptr<c10d::Work> w;
        try {
          c10d::BroadcastOptions bo;
          bo.rootRank = 0;
          w = g->pg->broadcast(v, bo);
        } catch (const std::exception& e) {
          g->fail("broadcasting the initial weights", e);
        }
        g->wait(w, "broadcasting the initial weights");
      }
    };
  } else {
    throw RootsException("ERR_INVALID_ARG", "unknown distributed op '" + op + "' (expected attach, detach, info or broadcast)");
  }
  return r;
#endif
}

// distributedInfo(): what this build can do across processes.
static Napi::Value DistributedInfo(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("c10d", static_cast<bool>(ROOTS_WITH_C10D));
  o.Set("gloo", static_cast<bool>(ROOTS_WITH_C10D));
#if ROOTS_WITH_C10D && ROOTS_WITH_NCCL
  o.Set("nccl", true);
#else
  o.Set("nccl", false);
#endif
  return o;
}

void InitDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("ProcessGroup", ProcessGroupWrap::Init(env));
  exports.Set("distributedInfo", Napi::Function::New(env, Guard<DistributedInfo>, "distributedInfo"));
}

}  // namespace roots
