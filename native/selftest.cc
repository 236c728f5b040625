// SelfTest: a small disposable native object used by `roots info --check` and by the lifecycle tests
// (dispose, busy, liveness, errors of every kind). It shares NativeObject with the models, so what
// the tests show of it holds for them.
#include "common.h"
#include "dropout.h"
#include "kernels.h"
#include "native_object.h"

#include <chrono>

namespace roots {

namespace {

// Throws an exception of the given kind, for tests of the catch ladder.
[[noreturn]] void ThrowKind(const std::string& kind) {
  if (kind == "torch") torch::matmul(torch::ones({2, 3}), torch::ones({4, 5}));  // a c10::Error
  if (kind == "roots") throw RootsException("ERR_CONFIG", "self-test failure: roots");
  if (kind == "std") throw std::runtime_error("self-test failure: std");
  if (kind == "unknown") throw 42;  // not derived from std::exception
  throw RootsException("ERR_INVALID_ARG", "Expected 'torch', 'roots', 'std' or 'unknown' for kind but received '" + kind + "'");
}

}  // namespace

class SelfTestWrap : public NativeObject<SelfTestWrap, torch::Tensor> {
 public:
  static constexpr const char* kKind = "selfTests";
  static constexpr const char* kName = "SelfTest";
  static int64_t HostBytes(const torch::Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); }

  static Napi::Function Init(Napi::Env env) {
    return Define(env, "SelfTest", {
      Method<&SelfTestWrap::Spin>("spin"),
      Method<&SelfTestWrap::ThrowTorch>("throwTorch"),
      Method<&SelfTestWrap::Throw>("throw"),
      Method<&SelfTestWrap::FailAsync>("failAsync"),
      Method<&SelfTestWrap::Sum>("sum"),
      Method<&SelfTestWrap::Dropout>("dropout"),
      Method<&SelfTestWrap::BiasGelu>("biasGelu"),
    });
  }

  // new SelfTest(size = 256): a size x size random matrix.
  explicit SelfTestWrap(const Napi::CallbackInfo& info) : NativeObject(info) {
    CallGuarded(info.Env(), [&] {
      const int64_t n = info.Length() > 0 && !info[0].IsUndefined() ? ArgInt(info, 0, "size") : 256;
      if (n <= 0) throw RootsException("ERR_INVALID_ARG", "Expected positive integer for size but received " + std::to_string(n));
      torch::manual_seed(0);
      Adopt(std::make_shared<torch::Tensor>(torch::randn({n, n})));
    });
  }

 private:
  // spin(ms): matrix products on the torch thread for at least `ms` milliseconds; resolves to the count.
  Napi::Value Spin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Use(env);
    double ms = ArgNumber(info, 0, "ms");
    auto data = payload();
    auto count = std::make_shared<int64_t>(0);
    return Run(env, "roots.selfTest.spin",
        [data, ms, count] {
          torch::NoGradGuard g;
          auto start = std::chrono::steady_clock::now();
          auto x = *data;
          while (std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() < ms) {
            x = torch::tanh(torch::matmul(x, *data));
            (*count)++;
          }
        },
        [count](Napi::Env env) { return Napi::Number::New(env, static_cast<double>(*count)); });
  }

  // throwTorch(): a synchronous torch error (a shape mismatch), to show how errors reach JS.
  Napi::Value ThrowTorch(const Napi::CallbackInfo& info) {
    Use(info.Env());
    auto c = torch::matmul(torch::ones({2, 3}), torch::ones({4, 5}));
    return Napi::Number::New(info.Env(), c.sum().item<double>());
  }

  // throw(kind): a synchronous C++ exception of the kind 'torch' | 'roots' | 'std' | 'unknown'.
  Napi::Value Throw(const Napi::CallbackInfo& info) {
    Use(info.Env());
    ThrowKind(ArgString(info, 0, "kind"));
  }

  // failAsync(kind): the same on the torch thread, inside a job.
  Napi::Value FailAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Use(env);
    std::string kind = ArgString(info, 0, "kind");
    return Run(env, "roots.selfTest.fail", [kind] { ThrowKind(kind); }, nullptr);
  }

  // dropout(values, p, seed): the engine's training-mode dropout applied to `values` (for tests).
  Napi::Value Dropout(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Use(env);
    auto x = CopyFloat32Array(env, info.Length() > 0 ? info[0] : env.Undefined(), "values", -1);
    double p = ArgNumber(info, 1, "p");
    auto seed = static_cast<uint64_t>(ArgNumber(info, 2, "seed"));
    torch::NoGradGuard g;
    return ToFloat32Array(env, FastDropout(x, p, seed));
  }

  // biasGelu(x, bias, dy, bf16): the fused BiasGelu kernel (kernels.h) on x [rows, N] + bias [N] in
  // fp32 or bf16, and its backward for the upstream gradient dy: { y, dx, dbias } in fp32 (for tests).
  Napi::Value BiasGelu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Use(env);
    auto b = CopyFloat32Array(env, info.Length() > 1 ? info[1] : env.Undefined(), "bias", -1);
    const int64_t n = b.numel();
    auto x = CopyFloat32Array(env, info.Length() > 0 ? info[0] : env.Undefined(), "x", -1);
    if (n == 0 || x.numel() % n != 0)
      throw RootsException("ERR_INVALID_ARG", "Expected x's length to be a multiple of bias's (" + std::to_string(n) + ") but received " + std::to_string(x.numel()));
    auto dy = CopyFloat32Array(env, info.Length() > 2 ? info[2] : env.Undefined(), "dy", x.numel());
    const auto dt = info.Length() > 3 && info[3].ToBoolean().Value() ? torch::kBFloat16 : torch::kFloat32;
    torch::AutoGradMode grad(true);
    auto xv = x.view({-1, n}).to(dt).detach().requires_grad_(true);
    b.requires_grad_(true);
    auto y = roots::BiasGelu(xv, b);
    y.backward(dy.view({-1, n}).to(dt));
    Napi::Object o = Napi::Object::New(env);
    o.Set("y", ToFloat32Array(env, y.detach().to(torch::kFloat32)));
    o.Set("dx", ToFloat32Array(env, xv.grad().to(torch::kFloat32)));
    o.Set("dbias", ToFloat32Array(env, b.grad()));
    return o;
  }

  Napi::Value Sum(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), Use(info.Env()).sum().item<double>());
  }
};

void InitSelfTest(Napi::Env env, Napi::Object exports) { exports.Set("SelfTest", SelfTestWrap::Init(env)); }

}  // namespace roots
