// Shared machinery of the addon: error codes, the Promise-returning job, argument helpers.
#pragma once
#include "pch.h"

#include <torch/version.h>

// LibTorch 2.x and 1.13 differ in a few APIs; one switch, checked at compile time.
#define ROOTS_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace roots {

// An error with a stable code that reaches JS as `err.code` (see lib/errors.ts for the list).
class RootsException : public std::runtime_error {
 public:
  RootsException(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// Builds a JS Error carrying a code.
Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message);

// Runs `fn`, translating C++ and torch exceptions into (code, message). Returns true on success.
bool Guarded(const std::function<void()>& fn, std::string* code, std::string* message);

// For synchronous entry points: run `fn`, throw a JS error with a code on failure.
template <typename F>
auto CallGuarded(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const RootsException& e) {
    throw MakeError(env, e.code(), e.what());
  } catch (const c10::Error& e) {
    throw MakeError(env, "ERR_TORCH", e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw MakeError(env, "ERR_NATIVE", e.what());
  }
}

// A Promise-returning job run on the addon's torch thread (sharp's pipeline pattern, with one
// dedicated thread instead of libuv's pool).
//   work:    runs on the torch thread; touches only torch and C++ data captured by value.
//   done:    runs on the JS thread after success; builds the JS result.
//   finally: runs on the JS thread after success or failure (clears busy flags, frees memory).
// Inputs are copied on the JS thread before the job is queued (baton discipline).
//
// Why one thread: libuv's pool runs consecutive jobs on different threads, and LibTorch's oneDNN
// (Debian's libdnnl 2.x) kept per-thread state that broke under that: bf16 training steps failed
// at random with std::bad_array_new_length inside brgemm_kernel_create, or crashed, after a few
// hundred steps of varying shapes (reproduced here; never with one thread). One long-lived thread
// also keeps one OpenMP team warm, and leaves libuv's pool free for the application's file I/O.
class Job {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  using Finally = std::function<void()>;

  static Napi::Promise Queue(Napi::Env env, const char* name, Work work, Done done,
                             Finally finally = nullptr, Napi::Object keepAlive = Napi::Object());

 private:
  Job(Napi::Env env, Work work, Done done, Finally finally);
  void Run();                    // on the torch thread
  void Complete(Napi::Env env);  // on the JS thread

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  Finally finally_;
  bool ok_ = false;
  std::string code_ = "ERR_NATIVE";
  std::string message_;
  Napi::ObjectReference keepAlive_;
  Napi::ThreadSafeFunction tsfn_;
};

// Live-object counters, exposed to JS so tests can catch leaks.
struct Counters {
  static std::atomic<int64_t> models;
  static std::atomic<int64_t> selfTests;
  static std::atomic<int64_t> jobs;
};

// Argument helpers (the TS layer validates first with friendlier messages; these are the backstop).
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name);
double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
Napi::Object ArgObject(const Napi::CallbackInfo& info, size_t i, const char* name);
// Copies a typed array of element type T into a new tensor (on the JS thread).
torch::Tensor CopyInt32Array(Napi::Env env, const Napi::Value& v, const char* name, int64_t expectedLength);
torch::Tensor CopyFloat32Array(Napi::Env env, const Napi::Value& v, const char* name, int64_t expectedLength);
Napi::Float32Array ToFloat32Array(Napi::Env env, const torch::Tensor& t);

// The caching CPU allocator (cpu_allocator.cc): installed once at module init.
void InstallCpuAllocator();
size_t CpuAllocatorCachedBytes();

// Module registration for each area (one file per area).
void InitInfo(Napi::Env env, Napi::Object exports);
void InitSelfTest(Napi::Env env, Napi::Object exports);
void InitModel(Napi::Env env, Napi::Object exports);

}  // namespace roots
