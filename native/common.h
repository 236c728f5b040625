// Shared machinery of the addon: error codes and the one catch ladder, the per-environment state,
// the Promise-returning job, argument helpers.
#pragma once
#include "pch.h"

#include <torch/version.h>

#include <mutex>

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

// What a C++ exception becomes in JS: a code and a message.
struct Failure {
  std::string code;
  std::string message;
};

// The addon's one catch ladder: RootsException keeps its code, c10::Error becomes ERR_TORCH (the
// message without torch's C++ backtrace), everything else ERR_NATIVE. Both the synchronous entry
// points (CallGuarded) and the jobs on the torch thread (Job::Run) go through it.
Failure DescribeException(std::exception_ptr e);

// Runs `fn` on the JS thread; a C++ exception becomes a JS error with a code. A Napi::Error (a JS
// exception, or one made with MakeError) passes through unchanged.
template <typename F>
auto CallGuarded(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    Failure f = DescribeException(std::current_exception());
    throw MakeError(env, f.code, f.message);
  }
}

// A guarded free function (module-level entry points): `Napi::Function::New(env, Guard<Info>, "info")`.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guard(const Napi::CallbackInfo& info) {
  return CallGuarded(info.Env(), [&] { return F(info); });
}

// A native object that holds memory and is freed when its environment goes away (native_object.h).
class Resource {
 public:
  virtual ~Resource() = default;
  // The liveObjects() key this object counts under ("models", "selfTests").
  virtual const char* Kind() const = 0;
  // Frees the native memory now (idempotent); called by the environment's cleanup hook.
  virtual void FreeForTeardown() = 0;
};

// The addon's state for one Node environment (the main thread, or one worker thread), kept as the
// environment's instance data instead of process-wide statics: a worker that exits tears down its
// own objects and leaves the main thread's alone. Objects and jobs hold it by shared_ptr, so it
// outlives whichever of them the environment finalizes last.
struct AddonState {
  // Set by the cleanup hook: V8 may not be told about memory any more.
  bool tearingDown = false;
  // Objects that still hold native memory (JS thread only). The cleanup hook frees them.
  std::set<Resource*> live;
  // Jobs queued or running; decremented on the torch thread when the environment is gone.
  std::atomic<int64_t> jobs{0};
  // Brings finished jobs back to this environment's JS thread; referenced (keeping the event loop
  // alive) only while jobs are pending. One per environment, not one per job: Node deletes a
  // thread-safe function when its environment goes away, whoever still holds it, so the torch
  // thread may touch it only under `mu` while `alive` (the cleanup hook clears it first).
  Napi::ThreadSafeFunction results;
  std::mutex mu;
  bool alive = true;

  static std::shared_ptr<AddonState> Of(Napi::Env env);
  // Creates the state of `env` and registers the cleanup hook (module init).
  static void Install(Napi::Env env);
  int64_t Count(const char* kind) const;
};

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
// The thread serves every environment of the process (torch's thread pools are per process).
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

  std::shared_ptr<AddonState> state_;
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  Finally finally_;
  bool ok_ = false;
  Failure failure_;
  Napi::ObjectReference keepAlive_;
};

// Argument helpers for values that TypeScript does not check first (the typed edge is
// lib/native.ts; these read and type-check what crosses it).
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name);
double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
Napi::Object ArgObject(const Napi::CallbackInfo& info, size_t i, const char* name);
// Required fields of an object: a missing or mistyped one is ERR_INVALID_ARG naming `what.key`.
double RequireNumber(Napi::Object o, const char* key, const char* what);
int64_t RequireInt(Napi::Object o, const char* key, const char* what);
std::string RequireString(Napi::Object o, const char* key, const char* what);
// How a JS value reads in an error message ("null", "a string", "an Int32Array of length 3" ...).
std::string DescribeValue(const Napi::Value& v);
// Copies a typed array of element type T into a new tensor (on the JS thread).
torch::Tensor CopyInt32Array(Napi::Env env, const Napi::Value& v, const char* name, int64_t expectedLength);
torch::Tensor CopyFloat32Array(Napi::Env env, const Napi::Value& v, const char* name, int64_t expectedLength);
Napi::Float32Array ToFloat32Array(Napi::Env env, const torch::Tensor& t);

// The intra-op thread count: set here (module init, setNumThreads) and applied on the torch thread
// before a job only when it changed. at::set_num_threads per job re-created LibTorch's pthreadpool
// (its new threads spin-wait) and cost ~9-20 ms per call on a 2-core machine.
void SetNumThreads(int n);
void ApplyNumThreads();

// The caching CPU allocator (cpu_allocator.cc): installed once per process.
void InstallCpuAllocator();
size_t CpuAllocatorCachedBytes();

// Module registration for each area (one file per area).
void InitInfo(Napi::Env env, Napi::Object exports);
void InitSelfTest(Napi::Env env, Napi::Object exports);
void InitModel(Napi::Env env, Napi::Object exports);

}  // namespace roots
