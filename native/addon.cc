// Module entry point: the process-wide setup (once), this environment's state, each area.
#include "common.h"
#include "distributed.h"

#include <cstdlib>
#include <mutex>
#include <thread>

namespace roots {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  return CallGuarded(env, [&] {
    // Process-wide, once (the main thread and every worker load the module): LibTorch counts
    // physical cores (1 on a VM that reports one core with two processors); default to every
    // processor, or ROOTS_NUM_THREADS. The CPU allocator serves every thread.
    static std::once_flag once;
    std::call_once(once, [] {
      int n = static_cast<int>(std::thread::hardware_concurrency());
      if (const char* s = std::getenv("ROOTS_NUM_THREADS")) n = std::atoi(s);
      if (n > 0) SetNumThreads(n);
      InstallCpuAllocator();
    });
    AddonState::Install(env);
    InitInfo(env, exports);
    InitSelfTest(env, exports);
    InitModel(env, exports);
    InitDistributed(env, exports);
    return exports;
  });
}

}  // namespace roots

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return roots::Init(env, exports); }

NODE_API_MODULE(roots_native, InitAddon)
