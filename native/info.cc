// info(), setNumThreads(), liveObjects(): what this build of the addon can do.
#include "common.h"

#ifdef ROOTS_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace roots {

static Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return CallGuarded(env, [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    o.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
    o.Set("torchVersionMajor", Napi::Number::New(env, TORCH_VERSION_MAJOR));
    o.Set("torchVersionMinor", Napi::Number::New(env, TORCH_VERSION_MINOR));
#ifdef ROOTS_WITH_CUDA
    const bool builtWithCuda = true;
#else
    const bool builtWithCuda = false;
#endif
    o.Set("builtWithCuda", Napi::Boolean::New(env, builtWithCuda));
    const bool cudaAvailable = torch::cuda::is_available();
    o.Set("cudaAvailable", Napi::Boolean::New(env, cudaAvailable));
    Napi::Array devices = Napi::Array::New(env);
#ifdef ROOTS_WITH_CUDA
    if (cudaAvailable) {
      for (int i = 0; i < static_cast<int>(torch::cuda::device_count()); i++) {
        auto* p = at::cuda::getDeviceProperties(i);
        Napi::Object d = Napi::Object::New(env);
        d.Set("index", i);
        d.Set("name", p->name);
        d.Set("totalMemory", static_cast<double>(p->totalGlobalMem));
        d.Set("computeCapability", std::to_string(p->major) + "." + std::to_string(p->minor));
        d.Set("bf16", p->major >= 8);
        devices.Set(static_cast<uint32_t>(i), d);
      }
    }
#endif
    o.Set("cudaDevices", devices);
    o.Set("mkldnn", Napi::Boolean::New(env, at::hasMKLDNN()));
    o.Set("mkl", Napi::Boolean::New(env, at::hasMKL()));
    o.Set("openmp", Napi::Boolean::New(env, at::hasOpenMP()));
    o.Set("numThreads", Napi::Number::New(env, at::get_num_threads()));
    o.Set("numInteropThreads", Napi::Number::New(env, at::get_num_interop_threads()));
    o.Set("parallelInfo", Napi::String::New(env, at::get_parallel_info()));
    o.Set("buildConfig", Napi::String::New(env, at::show_config()));
    o.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
    return o;
  });
}

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = ArgInt(info, 0, "numThreads");
  if (n <= 0) throw MakeError(info.Env(), "ERR_INVALID_ARG", "Expected positive integer for numThreads but received " + std::to_string(n));
  CallGuarded(info.Env(), [&] { at::set_num_threads(static_cast<int>(n)); });
  return info.Env().Undefined();
}

static Napi::Value LiveObjects(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("models", Napi::Number::New(env, static_cast<double>(Counters::models.load())));
  o.Set("selfTests", Napi::Number::New(env, static_cast<double>(Counters::selfTests.load())));
  o.Set("jobs", Napi::Number::New(env, static_cast<double>(Counters::jobs.load())));
  return o;
}

void InitInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("liveObjects", Napi::Function::New(env, LiveObjects, "liveObjects"));
}

}  // namespace roots
