// The JS edge of data parallelism (distributed.h): the ProcessGroup object (rendezvous, a small
// all-reduce, the rendezvous store's keys) and model.distributed(op, ...). The c10d work is in
// distributed.cc.
#include "distributed_c10d.h"

#include "bert.h"
#include "native_object.h"

namespace roots {

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
    m.gradSync = MakeGradReducer(g, bytes, ov.As<Napi::Boolean>().Value());
  } else if (op == "detach") {
    m.gradSync.reset();
  } else if (op == "info") {
    Napi::Object o = Napi::Object::New(env);
    auto red = DescribeReducer(m.gradSync.get());
    o.Set("attached", red.has_value());
    if (red) {
      o.Set("buckets", static_cast<double>(red->buckets));
      o.Set("bucketBytes", static_cast<double>(red->bucketBytes));
      o.Set("duringBackward", static_cast<double>(red->duringBackward));
      o.Set("hooks", red->hooks);
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
