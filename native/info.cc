// info(), setNumThreads(), liveObjects(): what this build of the addon can do.
#include "common.h"
#include "quantize.h"

// ROOTS_WITH_CUDA: built with the CUDA headers. Only the CUDA runtime's header is needed (not
// cuBLAS & co., which ATen/cuda/CUDAContext.h would pull in): a PyTorch wheel's LibTorch plus a bare
// CUDA runtime is enough (scripts/gpu/build-direct.sh).
#ifdef ROOTS_WITH_CUDA
#include <cuda_runtime_api.h>
#include <c10/cuda/CUDACachingAllocator.h>
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
    const bool cudaHeaders = true;
#else
    const bool cudaHeaders = false;
#endif
    const bool cudaAvailable = torch::cuda::is_available();
    // A LibTorch that finds a GPU has CUDA, whether or not this addon was compiled with its headers.
    o.Set("builtWithCuda", Napi::Boolean::New(env, cudaHeaders || cudaAvailable));
    o.Set("cudaAvailable", Napi::Boolean::New(env, cudaAvailable));
    Napi::Array devices = Napi::Array::New(env);
#ifdef ROOTS_WITH_CUDA
    if (cudaAvailable) {
      for (int i = 0; i < static_cast<int>(torch::cuda::device_count()); i++) {
        cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
        Napi::Object d = Napi::Object::New(env);
        d.Set("index", i);
        d.Set("name", std::string(p.name));
        d.Set("totalMemory", static_cast<double>(p.totalGlobalMem));
        d.Set("computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor));
        d.Set("bf16", p.major >= 8);
        devices.Set(static_cast<uint32_t>(i), d);
      }
    }
#endif
    o.Set("cudaDevices", devices);
    // Memory counters need the CUDA headers at build time (a CUDA LibTorch found with its toolkit).
    o.Set("cudaMemoryStats", Napi::Boolean::New(env, cudaHeaders));
    o.Set("mkldnn", Napi::Boolean::New(env, at::hasMKLDNN()));
    o.Set("mkl", Napi::Boolean::New(env, at::hasMKL()));
    o.Set("openmp", Napi::Boolean::New(env, at::hasOpenMP()));
    o.Set("numThreads", Napi::Number::New(env, at::get_num_threads()));
    o.Set("numInteropThreads", Napi::Number::New(env, at::get_num_interop_threads()));
    o.Set("parallelInfo", Napi::String::New(env, at::get_parallel_info()));
    o.Set("buildConfig", Napi::String::New(env, at::show_config()));
    Napi::Array qe = Napi::Array::New(env);  // int8 inference's engines, preferred first (quantize.h)
    for (const auto& e : QuantizedLinears::Engines()) qe.Set(qe.Length(), e);
    o.Set("quantizedEngines", qe);
    o.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
    return o;
  });
}

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = ArgInt(info, 0, "numThreads");
  if (n <= 0) throw MakeError(info.Env(), "ERR_INVALID_ARG", "Expected positive integer for numThreads but received " + std::to_string(n));
  CallGuarded(info.Env(), [&] { SetNumThreads(static_cast<int>(n)); });
  return info.Env().Undefined();
}

// liveObjects(): this environment's objects that still hold native memory, and its unfinished jobs
// (a worker thread's objects are its own).
static Napi::Value LiveObjects(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = AddonState::Of(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("models", Napi::Number::New(env, static_cast<double>(state->Count("models"))));
  o.Set("selfTests", Napi::Number::New(env, static_cast<double>(state->Count("selfTests"))));
  o.Set("jobs", Napi::Number::New(env, static_cast<double>(state->jobs.load())));
  return o;
}

// externalMemory(): V8's running total of the external memory reported to this thread's isolate
// (the objects report theirs with AdjustExternalMemory; process.memoryUsage() does not show it).
static Napi::Value ExternalMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, static_cast<double>(Napi::MemoryManagement::AdjustExternalMemory(env, 0)));
}

// A CUDA device index from an optional argument (default 0); -1 when CUDA is not usable here.
static int64_t CudaIndex(const Napi::CallbackInfo& info) {
  int64_t dev = info.Length() > 0 && !info[0].IsUndefined() ? ArgInt(info, 0, "device") : 0;
  if (!torch::cuda::is_available()) return -1;
  if (dev < 0 || dev >= static_cast<int64_t>(torch::cuda::device_count()))
    throw MakeError(info.Env(), "ERR_INVALID_ARG", "no CUDA device " + std::to_string(dev) + " (there are " +
                                                      std::to_string(torch::cuda::device_count()) + ")");
  return dev;
}

// cudaMemory(device = 0): the CUDA caching allocator's byte counters for one device (current and
// peak since the last reset, allocated by tensors and reserved from the driver), or null where CUDA
// is not available or the addon was built without the CUDA headers.
static Napi::Value CudaMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t dev = CudaIndex(info);
  if (dev < 0) return env.Null();
  return CallGuarded(env, [&]() -> Napi::Value {
#ifdef ROOTS_WITH_CUDA
    // The allocator's per-device state exists once the device is initialised.
    torch::empty({1}, torch::TensorOptions().device(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(dev))));
    const auto s = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(dev));
    Napi::Object o = Napi::Object::New(env);
    o.Set("allocated", static_cast<double>(s.allocated_bytes[0].current));  // [0]: StatType::AGGREGATE
    o.Set("peakAllocated", static_cast<double>(s.allocated_bytes[0].peak));
    o.Set("reserved", static_cast<double>(s.reserved_bytes[0].current));
    o.Set("peakReserved", static_cast<double>(s.reserved_bytes[0].peak));
    return o;
#else
    return env.Null();
#endif
  });
}

// resetCudaPeakMemory(device = 0): starts the peak counters of cudaMemory() again from the current values.
static Napi::Value ResetCudaPeakMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t dev = CudaIndex(info);
#ifdef ROOTS_WITH_CUDA
  if (dev >= 0)
    CallGuarded(env, [&] {
      torch::empty({1}, torch::TensorOptions().device(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(dev))));
      c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(dev));
    });
#else
  (void)dev;
#endif
  return env.Undefined();
}

// cudaSynchronize(device = 0): waits for all work queued on the device (for timing); a no-op without CUDA.
// torch::cuda::synchronize needs no CUDA headers, so this works in every build.
static Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t dev = CudaIndex(info);
  if (dev >= 0) CallGuarded(env, [&] { torch::cuda::synchronize(dev); });
  return env.Undefined();
}

void InitInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaMemory", Napi::Function::New(env, Guard<CudaMemory>, "cudaMemory"));
  exports.Set("resetCudaPeakMemory", Napi::Function::New(env, Guard<ResetCudaPeakMemory>, "resetCudaPeakMemory"));
  exports.Set("cudaSynchronize", Napi::Function::New(env, Guard<CudaSynchronize>, "cudaSynchronize"));
  exports.Set("info", Napi::Function::New(env, Guard<Info>, "info"));
  exports.Set("setNumThreads", Napi::Function::New(env, Guard<SetNumThreads>, "setNumThreads"));
  exports.Set("liveObjects", Napi::Function::New(env, Guard<LiveObjects>, "liveObjects"));
  exports.Set("externalMemory", Napi::Function::New(env, Guard<ExternalMemory>, "externalMemory"));
}

}  // namespace roots
