#include "common.h"

#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

namespace roots {

Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

Failure DescribeException(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const RootsException& x) {
    return {x.code(), x.what()};
  } catch (const c10::Error& x) {
    return {"ERR_TORCH", x.what_without_backtrace()};
  } catch (const std::bad_alloc& x) {
    return {"ERR_NATIVE", std::string("out of memory (") + x.what() + ")"};
  } catch (const std::exception& x) {
    return {"ERR_NATIVE", x.what()};
  } catch (...) {
    return {"ERR_NATIVE", "unknown native exception (not derived from std::exception)"};
  }
}

// ---- per-environment state ----------------------------------------------------------------------

std::shared_ptr<AddonState> AddonState::Of(Napi::Env env) {
  auto* holder = env.GetInstanceData<std::shared_ptr<AddonState>>();
  if (!holder) throw RootsException("ERR_NATIVE", "the addon was not initialised in this environment");
  return *holder;
}

void AddonState::Install(Napi::Env env) {
  auto state = std::make_shared<AddonState>();
  env.SetInstanceData(new std::shared_ptr<AddonState>(state));
  // Made before the cleanup hook below is registered, so that the hook runs first (hooks run in
  // reverse order) and closes the door before Node tears the thread-safe function down.
  state->results = Napi::ThreadSafeFunction::New(env, Napi::Function(), "roots.results", 0, 1);
  state->results.Unref(env);
  // Runs when this environment shuts down (a worker thread exiting, or the process), before the
  // remaining objects are finalized: stops the torch thread from delivering results here, frees
  // every live object's native memory (a running job keeps its model until it finishes), and stops
  // telling V8 about memory from then on.
  env.AddCleanupHook([state] {
    {
      std::lock_guard<std::mutex> g(state->mu);
      state->alive = false;
    }
    state->tearingDown = true;
    std::vector<Resource*> all(state->live.begin(), state->live.end());
    for (Resource* r : all) r->FreeForTeardown();
  });
}

int64_t AddonState::Count(const char* kind) const {
  int64_t n = 0;
  for (const Resource* r : live)
    if (std::strcmp(r->Kind(), kind) == 0) n++;
  return n;
}

// ---- jobs -----------------------------------------------------------------------------------------

namespace {

// The one thread that runs every job, in order (started on first use, never joined: it may be
// running a step when the process exits).
class TorchThread {
 public:
  static TorchThread& Get() {
    static TorchThread* t = new TorchThread();
    return *t;
  }
  void Post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> g(mu_);
      queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }

 private:
  TorchThread() { std::thread([this] { Loop(); }).detach(); }
  void Loop() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> g(mu_);
        cv_.wait(g, [this] { return !queue_.empty(); });
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

}  // namespace

Job::Job(Napi::Env env, Work work, Done done, Finally finally)
    : state_(AddonState::Of(env)),
      deferred_(Napi::Promise::Deferred::New(env)),
      work_(std::move(work)),
      done_(std::move(done)),
      finally_(std::move(finally)) {
  if (state_->jobs++ == 0) state_->results.Ref(env);  // keep the event loop alive for the result
}

Napi::Promise Job::Queue(Napi::Env env, const char* name, Work work, Done done, Finally finally,
                         Napi::Object keepAlive) {
  auto* job = new Job(env, std::move(work), std::move(done), std::move(finally));
  // Keep the owning JS object alive while the job runs, so GC cannot finalize it mid-step.
  if (!keepAlive.IsEmpty()) job->keepAlive_ = Napi::Persistent(keepAlive);
  Napi::Promise promise = job->deferred_.Promise();
  TorchThread::Get().Post([job] { job->Run(); });
  return promise;
}

namespace {
std::atomic<int> g_threads{0};  // requested intra-op threads; 0: LibTorch's default
}  // namespace

void SetNumThreads(int n) {
  at::set_num_threads(n);
  g_threads = n;
}

void ApplyNumThreads() {
  // OpenMP thread counts are per thread: apply the requested count on this thread if it differs
  // (at::get_num_threads is this thread's OpenMP setting, initialised from the global one once).
  const int want = g_threads.load();
  if (want > 0 && at::get_num_threads() != want) at::set_num_threads(want);
}

void Job::Run() {
  ApplyNumThreads();
  try {
    work_();
    ok_ = true;
  } catch (...) {
    failure_ = DescribeException(std::current_exception());
  }
  work_ = nullptr;  // what the work captured (a model a worker has let go of) is freed here, now
  std::shared_ptr<AddonState> state = state_;  // `this` may be deleted on the JS thread once queued
  napi_status st = napi_closing;
  {
    std::lock_guard<std::mutex> g(state->mu);
    if (state->alive)
      st = state->results.NonBlockingCall(this, [](Napi::Env env, Napi::Function, Job* job) { job->Complete(env); });
  }
  if (st != napi_ok) {
    // The environment is gone (a worker thread exited mid-job): nobody waits for the result. The
    // JS handles belong to the dead environment and are left alone (a few bytes); the C++ data the
    // callbacks captured is freed.
    done_ = nullptr;
    finally_ = nullptr;
    state->jobs--;
  }
}

void Job::Complete(Napi::Env env) {
  Napi::HandleScope scope(env);
  if (--state_->jobs == 0) state_->results.Unref(env);
  try {
    if (finally_) CallGuarded(env, [&] { finally_(); });
    if (!ok_) {
      deferred_.Reject(MakeError(env, failure_.code, failure_.message).Value());
    } else {
      deferred_.Resolve(CallGuarded(env, [&] { return done_ ? done_(env) : env.Undefined(); }));
    }
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
  delete this;
}

// ---- arguments ------------------------------------------------------------------------------------

std::string DescribeValue(const Napi::Value& v) {
  if (v.IsEmpty() || v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsNumber()) {
    std::ostringstream s;
    s << v.As<Napi::Number>().DoubleValue();
    return s.str();
  }
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.size() > 40) s = s.substr(0, 37) + "...";
    return "the string \"" + s + "\"";
  }
  if (v.IsTypedArray()) {
    static const std::map<napi_typedarray_type, const char*> names = {
        {napi_int8_array, "Int8Array"},       {napi_uint8_array, "Uint8Array"},
        {napi_uint8_clamped_array, "Uint8ClampedArray"}, {napi_int16_array, "Int16Array"},
        {napi_uint16_array, "Uint16Array"},   {napi_int32_array, "Int32Array"},
        {napi_uint32_array, "Uint32Array"},   {napi_float32_array, "Float32Array"},
        {napi_float64_array, "Float64Array"}, {napi_bigint64_array, "BigInt64Array"},
        {napi_biguint64_array, "BigUint64Array"}};
    auto a = v.As<Napi::TypedArray>();
    auto it = names.find(a.TypedArrayType());
    return std::string("a") + (it == names.end() ? " typed array" : std::string(" ") + it->second) + " of length " +
           std::to_string(a.ElementLength());
  }
  if (v.IsArray()) return "an array of length " + std::to_string(v.As<Napi::Array>().Length());
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

static Napi::Error ArgError(Napi::Env env, size_t i, const char* name, const char* expected, const Napi::Value& got) {
  return MakeError(env, "ERR_INVALID_ARG",
                   std::string("Expected ") + expected + " for " + name + " (argument " + std::to_string(i) +
                       ") but received " + DescribeValue(got));
}

static Napi::Value At(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i ? info[i] : info.Env().Undefined();
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = At(info, i);
  if (!v.IsNumber()) throw ArgError(info.Env(), i, name, "an integer", v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(std::abs(d) < 9.007199254740992e15) || d != static_cast<double>(static_cast<int64_t>(d)))
    throw ArgError(info.Env(), i, name, "an integer", v);
  return static_cast<int64_t>(d);
}

double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = At(info, i);
  if (!v.IsNumber()) throw ArgError(info.Env(), i, name, "a number", v);
  return v.As<Napi::Number>().DoubleValue();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = At(info, i);
  if (!v.IsString()) throw ArgError(info.Env(), i, name, "a string", v);
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object ArgObject(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = At(info, i);
  if (!v.IsObject()) throw ArgError(info.Env(), i, name, "an object", v);
  return v.As<Napi::Object>();
}

static Napi::Error FieldError(Napi::Object o, const char* key, const char* what, const char* expected, const Napi::Value& got) {
  return MakeError(o.Env(), "ERR_INVALID_ARG",
                   std::string("Expected ") + expected + " for " + what + "." + key + " but received " + DescribeValue(got));
}

double RequireNumber(Napi::Object o, const char* key, const char* what) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw FieldError(o, key, what, "a number", v);
  return v.As<Napi::Number>().DoubleValue();
}

int64_t RequireInt(Napi::Object o, const char* key, const char* what) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw FieldError(o, key, what, "an integer", v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(std::abs(d) < 9.007199254740992e15) || d != static_cast<double>(static_cast<int64_t>(d)))
    throw FieldError(o, key, what, "an integer", v);
  return static_cast<int64_t>(d);
}

std::string RequireString(Napi::Object o, const char* key, const char* what) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw FieldError(o, key, what, "a string", v);
  return v.As<Napi::String>().Utf8Value();
}

template <typename T>
static torch::Tensor CopyTypedArray(Napi::Env env, const Napi::Value& v, const char* name, int64_t expectedLength,
                                    napi_typedarray_type type, const char* typeName, torch::ScalarType dtype) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw MakeError(env, "ERR_INVALID_ARG", std::string("Expected ") + typeName + " for " + name +
                                                (expectedLength >= 0 ? " (length " + std::to_string(expectedLength) + ")" : "") +
                                                " but received " + DescribeValue(v));
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  if (expectedLength >= 0 && static_cast<int64_t>(arr.ElementLength()) != expectedLength)
    throw MakeError(env, "ERR_INVALID_ARG", std::string("Expected ") + name + " of length " +
                                                std::to_string(expectedLength) + " but received length " +
                                                std::to_string(arr.ElementLength()));
  auto t = torch::empty({static_cast<int64_t>(arr.ElementLength())}, dtype);
  if (arr.ElementLength()) std::memcpy(t.data_ptr(), arr.Data(), arr.ElementLength() * sizeof(T));
  return t;
}

torch::Tensor CopyInt32Array(Napi::Env env, const Napi::Value& v, const char* name, int64_t expectedLength) {
  return CopyTypedArray<int32_t>(env, v, name, expectedLength, napi_int32_array, "Int32Array", torch::kInt32);
}

torch::Tensor CopyFloat32Array(Napi::Env env, const Napi::Value& v, const char* name, int64_t expectedLength) {
  return CopyTypedArray<float>(env, v, name, expectedLength, napi_float32_array, "Float32Array", torch::kFloat32);
}

Napi::Float32Array ToFloat32Array(Napi::Env env, const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  auto out = Napi::Float32Array::New(env, static_cast<size_t>(c.numel()));
  if (c.numel()) std::memcpy(out.Data(), c.data_ptr<float>(), c.numel() * sizeof(float));
  return out;
}

}  // namespace roots
