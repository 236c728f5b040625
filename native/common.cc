#include "common.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace roots {

std::atomic<int64_t> Counters::models{0};
std::atomic<int64_t> Counters::selfTests{0};
std::atomic<int64_t> Counters::jobs{0};

Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

bool Guarded(const std::function<void()>& fn, std::string* code, std::string* message) {
  try {
    fn();
    return true;
  } catch (const RootsException& e) {
    *code = e.code();
    *message = e.what();
  } catch (const c10::Error& e) {
    *code = "ERR_TORCH";
    *message = e.what_without_backtrace();
  } catch (const std::bad_alloc& e) {
    *code = "ERR_NATIVE";
    *message = std::string("out of memory (") + e.what() + ")";
  } catch (const std::exception& e) {
    *code = "ERR_NATIVE";
    *message = e.what();
  } catch (...) {
    *code = "ERR_NATIVE";
    *message = "unknown native exception";
  }
  return false;
}

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
    : deferred_(Napi::Promise::Deferred::New(env)),
      work_(std::move(work)),
      done_(std::move(done)),
      finally_(std::move(finally)) {
  Counters::jobs++;
}

Napi::Promise Job::Queue(Napi::Env env, const char* name, Work work, Done done, Finally finally,
                         Napi::Object keepAlive) {
  auto* job = new Job(env, std::move(work), std::move(done), std::move(finally));
  // Keep the owning JS object alive while the job runs, so GC cannot finalize it mid-step.
  if (!keepAlive.IsEmpty()) job->keepAlive_ = Napi::Persistent(keepAlive);
  // The thread-safe function brings the result back to this env's JS thread, and keeps the event
  // loop alive until it has.
  job->tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function(), name, 0, 1);
  Napi::Promise promise = job->deferred_.Promise();
  TorchThread::Get().Post([job] { job->Run(); });
  return promise;
}

void Job::Run() {
  // OpenMP thread counts are per thread: apply the global setting (setNumThreads may have changed it).
  at::init_num_threads();
  ok_ = Guarded(work_, &code_, &message_);
  auto tsfn = tsfn_;
  napi_status st = tsfn.BlockingCall(this, [](Napi::Env env, Napi::Function, Job* job) {
    job->Complete(env);
  });
  tsfn.Release();
  if (st != napi_ok) {
    // The environment is gone (a worker thread exited mid-job): nobody is waiting for the result.
    Counters::jobs--;
  }
}

void Job::Complete(Napi::Env env) {
  Napi::HandleScope scope(env);
  if (finally_) finally_();
  Counters::jobs--;
  if (!ok_) {
    deferred_.Reject(MakeError(env, code_, message_).Value());
  } else {
    try {
      deferred_.Resolve(done_ ? done_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(MakeError(env, "ERR_NATIVE", e.what()).Value());
    }
  }
  delete this;
}

static Napi::Error ArgError(Napi::Env env, size_t i, const char* name, const char* expected) {
  return MakeError(env, "ERR_INVALID_ARG",
                   std::string("Expected ") + expected + " for " + name + " (argument " + std::to_string(i) + ")");
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) throw ArgError(info.Env(), i, name, "an integer");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) throw ArgError(info.Env(), i, name, "an integer");
  return static_cast<int64_t>(d);
}

double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) throw ArgError(info.Env(), i, name, "a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsString()) throw ArgError(info.Env(), i, name, "a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Object ArgObject(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsObject()) throw ArgError(info.Env(), i, name, "an object");
  return info[i].As<Napi::Object>();
}

torch::Tensor CopyInt32Array(Napi::Env env, const Napi::Value& v, const char* name, int64_t expectedLength) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw MakeError(env, "ERR_INVALID_ARG", std::string("Expected Int32Array for ") + name);
  auto arr = v.As<Napi::Int32Array>();
  if (expectedLength >= 0 && static_cast<int64_t>(arr.ElementLength()) != expectedLength)
    throw MakeError(env, "ERR_INVALID_ARG", std::string("Expected ") + name + " of length " +
                                                std::to_string(expectedLength) + " but received length " +
                                                std::to_string(arr.ElementLength()));
  auto t = torch::empty({static_cast<int64_t>(arr.ElementLength())}, torch::kInt32);
  if (arr.ElementLength()) std::memcpy(t.data_ptr<int32_t>(), arr.Data(), arr.ElementLength() * sizeof(int32_t));
  return t;
}

torch::Tensor CopyFloat32Array(Napi::Env env, const Napi::Value& v, const char* name, int64_t expectedLength) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw MakeError(env, "ERR_INVALID_ARG", std::string("Expected Float32Array for ") + name);
  auto arr = v.As<Napi::Float32Array>();
  if (expectedLength >= 0 && static_cast<int64_t>(arr.ElementLength()) != expectedLength)
    throw MakeError(env, "ERR_INVALID_ARG", std::string("Expected ") + name + " of length " +
                                                std::to_string(expectedLength) + " but received length " +
                                                std::to_string(arr.ElementLength()));
  auto t = torch::empty({static_cast<int64_t>(arr.ElementLength())}, torch::kFloat32);
  if (arr.ElementLength()) std::memcpy(t.data_ptr<float>(), arr.Data(), arr.ElementLength() * sizeof(float));
  return t;
}

Napi::Float32Array ToFloat32Array(Napi::Env env, const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  auto out = Napi::Float32Array::New(env, static_cast<size_t>(c.numel()));
  if (c.numel()) std::memcpy(out.Data(), c.data_ptr<float>(), c.numel() * sizeof(float));
  return out;
}

}  // namespace roots
