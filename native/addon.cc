// Module entry point: registers each area and sets LibTorch's thread count.
#include "common.h"

#include <cstdlib>
#include <thread>

namespace roots {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // LibTorch counts physical cores (1 on a VM that reports one core with two processors);
  // default to every processor, or ROOTS_NUM_THREADS.
  static bool threadsSet = false;
  if (!threadsSet) {
    threadsSet = true;
    int n = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* s = std::getenv("ROOTS_NUM_THREADS")) n = std::atoi(s);
    if (n > 0) at::set_num_threads(n);
    InstallCpuAllocator();
  }
  InitInfo(env, exports);
  InitSelfTest(env, exports);
  InitModel(env, exports);
  return exports;
}

}  // namespace roots

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return roots::Init(env, exports); }

NODE_API_MODULE(roots_native, InitAddon)
