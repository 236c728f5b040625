// SelfTest: a small disposable native object used by `roots info --check` and by the lifecycle tests
// (dispose, busy, liveness, errors). It exercises the same Job/dispose machinery as the models.
#include "common.h"
#include "dropout.h"

#include <chrono>

namespace roots {

class SelfTestWrap : public Napi::ObjectWrap<SelfTestWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SelfTest",
                       {InstanceMethod("spin", &SelfTestWrap::Spin),
                        InstanceMethod("throwTorch", &SelfTestWrap::ThrowTorch),
                        InstanceMethod("failAsync", &SelfTestWrap::FailAsync),
                        InstanceMethod("sum", &SelfTestWrap::Sum),
                        InstanceMethod("dropout", &SelfTestWrap::Dropout),
                        InstanceMethod("dispose", &SelfTestWrap::Dispose),
                        InstanceAccessor("disposed", &SelfTestWrap::Disposed, nullptr),
                        InstanceAccessor("busy", &SelfTestWrap::Busy, nullptr)});
  }

  explicit SelfTestWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SelfTestWrap>(info) {
    int64_t n = info.Length() > 0 ? ArgInt(info, 0, "size") : 256;
    CallGuarded(info.Env(), [&] {
      torch::manual_seed(0);
      data_ = std::make_shared<torch::Tensor>(torch::randn({n, n}));
    });
    bytes_ = n * n * 4;
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), bytes_);
    Counters::selfTests++;
  }
  ~SelfTestWrap() override { Release(Env()); }

 private:
  void Release(Napi::Env env) {
    if (!data_) return;
    data_.reset();
    Counters::selfTests--;
    // The finalizer may run during env teardown, where adjusting memory is not allowed.
    if (!tearingDown_) Napi::MemoryManagement::AdjustExternalMemory(env, -bytes_);
  }
  void Check(Napi::Env env, bool allowBusy = false) {
    if (!data_) throw MakeError(env, "ERR_DISPOSED", "SelfTest was used after dispose()");
    if (busy_ && !allowBusy) throw MakeError(env, "ERR_BUSY", "SelfTest is busy: await the running call before starting another");
  }

  // spin(ms): matrix products on a worker thread for at least `ms` milliseconds; resolves to the count.
  Napi::Value Spin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Check(env);
    double ms = ArgNumber(info, 0, "ms");
    auto data = data_;
    auto count = std::make_shared<int64_t>(0);
    busy_ = true;
    return Job::Queue(
        env, "roots.selfTest.spin",
        [data, ms, count] {
          torch::NoGradGuard g;
          auto start = std::chrono::steady_clock::now();
          auto x = *data;
          while (std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() < ms) {
            x = torch::tanh(torch::matmul(x, *data));
            (*count)++;
          }
        },
        [count](Napi::Env env) { return Napi::Number::New(env, static_cast<double>(*count)); },
        [this] { busy_ = false; if (disposePending_) { disposePending_ = false; Release(Env()); } },
        Value());
  }

  // throwTorch(): a synchronous torch error (a shape mismatch), to show how errors reach JS.
  Napi::Value ThrowTorch(const Napi::CallbackInfo& info) {
    Check(info.Env());
    return CallGuarded(info.Env(), [&]() -> Napi::Value {
      auto a = torch::ones({2, 3});
      auto b = torch::ones({4, 5});
      auto c = torch::matmul(a, b);
      return Napi::Number::New(info.Env(), c.sum().item<double>());
    });
  }

  // failAsync(kind): a job that fails on the worker thread ('torch' or 'std').
  Napi::Value FailAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Check(env);
    std::string kind = ArgString(info, 0, "kind");
    busy_ = true;
    return Job::Queue(
        env, "roots.selfTest.fail",
        [kind] {
          if (kind == "torch") torch::matmul(torch::ones({2, 3}), torch::ones({4, 5}));
          throw std::runtime_error("self-test failure: " + kind);
        },
        nullptr, [this] { busy_ = false; if (disposePending_) { disposePending_ = false; Release(Env()); } },
        Value());
  }

  // dropout(values, p, seed): the engine's training-mode dropout applied to `values` (for tests).
  Napi::Value Dropout(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Check(env);
    auto x = CopyFloat32Array(env, info[0], "values", -1);
    double p = ArgNumber(info, 1, "p");
    auto seed = static_cast<uint64_t>(ArgNumber(info, 2, "seed"));
    return CallGuarded(env, [&]() -> Napi::Value { torch::NoGradGuard g; return ToFloat32Array(env, FastDropout(x, p, seed)); });
  }

  Napi::Value Sum(const Napi::CallbackInfo& info) {
    Check(info.Env());
    return Napi::Number::New(info.Env(), data_->sum().item<double>());
  }

  // dispose(): idempotent. While a job runs, the memory is freed when it finishes.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (busy_) disposePending_ = true;
    else Release(info.Env());
    return info.Env().Undefined();
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !data_ || disposePending_); }
  Napi::Value Busy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), busy_); }

 public:
  static bool tearingDown_;

 private:
  std::shared_ptr<torch::Tensor> data_;
  int64_t bytes_ = 0;
  bool busy_ = false;
  bool disposePending_ = false;
};

bool SelfTestWrap::tearingDown_ = false;

void InitSelfTest(Napi::Env env, Napi::Object exports) {
  exports.Set("SelfTest", SelfTestWrap::Define(env));
  env.AddCleanupHook([] { SelfTestWrap::tearingDown_ = true; });
}

}  // namespace roots
