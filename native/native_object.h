// The lifecycle every JS-visible native object shares (ModelWrap, SelfTestWrap), written once:
// - one async job at a time: a second call while one runs is ERR_BUSY;
// - dispose() is idempotent; while a job runs it frees the memory when the job ends;
// - use after dispose is ERR_DISPOSED;
// - the native memory is reported to V8 (AdjustExternalMemory) and counted in liveObjects();
// - it is freed by dispose(), by GC (the destructor), or by the environment's cleanup hook,
//   whichever comes first (AddonState);
// - every JS-callable member runs inside the one catch ladder (CallGuarded), so no C++ exception
//   of any type leaves an entry point without a code.
// CRTP over Napi::ObjectWrap: `class ModelWrap : public NativeObject<ModelWrap, Bert>`. T provides
// kKind (its liveObjects() key), kName (for messages) and `static int64_t HostBytes(const Payload&)`.
#pragma once
#include "common.h"

#include <type_traits>

namespace roots {

template <typename T, typename Payload>
class NativeObject : public Napi::ObjectWrap<T>, public Resource {
 public:
  const char* Kind() const override { return T::kKind; }
  void FreeForTeardown() override { Release(); }

 protected:
  using Descriptor = Napi::ClassPropertyDescriptor<T>;

  explicit NativeObject(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<T>(info), state_(AddonState::Of(info.Env())) {}
  ~NativeObject() override { Release(); }

  // The JS class: `members` plus dispose(), disposed and busy.
  static Napi::Function Define(Napi::Env env, const char* name, std::vector<Descriptor> members) {
    members.push_back(Method<&NativeObject::Dispose>("dispose"));
    members.push_back(Getter<&NativeObject::Disposed>("disposed"));
    members.push_back(Getter<&NativeObject::Busy>("busy"));
    return Napi::ObjectWrap<T>::DefineClass(env, name, members);
  }

  // A guarded JS method, getter, or getter with setter: `Method<&ModelWrap::Forward>("forward")`.
  template <auto M>
  static Descriptor Method(const char* name) {
    return Napi::ObjectWrap<T>::InstanceMethod(name, static_cast<GetterFn>(&NativeObject::template Guarded<M>));
  }
  template <auto G>
  static Descriptor Getter(const char* name) {
    return Napi::ObjectWrap<T>::InstanceAccessor(name, static_cast<GetterFn>(&NativeObject::template Guarded<G>), nullptr);
  }
  template <auto G, auto S>
  static Descriptor Accessor(const char* name) {
    return Napi::ObjectWrap<T>::InstanceAccessor(name, static_cast<GetterFn>(&NativeObject::template Guarded<G>),
                                                 static_cast<SetterFn>(&NativeObject::template GuardedSet<S>));
  }

  // Called by T's constructor (inside CallGuarded) once the payload exists.
  void Adopt(std::shared_ptr<Payload> payload) {
    payload_ = std::move(payload);
    state_->live.insert(this);
    SyncMemory();
  }

  // The payload, for a call that is about to use it: ERR_DISPOSED after dispose(), ERR_BUSY while a job runs.
  Payload& Use(Napi::Env env) {
    if (!payload_ || disposePending_) throw MakeError(env, "ERR_DISPOSED", std::string(T::kName) + " was used after dispose()");
    if (busy_) throw MakeError(env, "ERR_BUSY", std::string(T::kName) + " is busy: await the running call before starting another");
    return *payload_;
  }

  // Queues a job on the torch thread with this object busy until it ends. `work` must capture the
  // payload by shared_ptr (payload()), never `this`: a worker's exit may free the object mid-job.
  Napi::Promise Run(Napi::Env env, const char* name, Job::Work work, Job::Done done) {
    Use(env);
    Napi::Promise p = Job::Queue(env, name, std::move(work), std::move(done), [this] {
      busy_ = false;
      if (disposePending_) {
        disposePending_ = false;
        Release();
      } else {
        SyncMemory();  // the job may have grown the payload (optimizer state)
      }
    }, this->Value());
    busy_ = true;
    return p;
  }

  const std::shared_ptr<Payload>& payload() const { return payload_; }

 private:
  using GetterFn = Napi::Value (T::*)(const Napi::CallbackInfo&);
  using SetterFn = void (T::*)(const Napi::CallbackInfo&, const Napi::Value&);

  template <auto M>
  Napi::Value Guarded(const Napi::CallbackInfo& info) {
    T* self = static_cast<T*>(this);
    return CallGuarded(info.Env(), [&]() -> Napi::Value { return (self->*M)(info); });
  }
  template <auto S>
  void GuardedSet(const Napi::CallbackInfo& info, const Napi::Value& value) {
    T* self = static_cast<T*>(this);
    CallGuarded(info.Env(), [&] { (self->*S)(info, value); });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (busy_) disposePending_ = true;  // freed when the running job finishes
    else Release();
    return info.Env().Undefined();
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !payload_ || disposePending_); }
  Napi::Value Busy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), busy_); }

  // Tells V8 how much memory the payload holds in this process's heap, while V8 may be told.
  void SyncMemory() {
    if (!payload_ || state_->tearingDown) return;
    const int64_t now = T::HostBytes(*payload_);
    if (now != bytes_) {
      Napi::MemoryManagement::AdjustExternalMemory(this->Env(), now - bytes_);
      bytes_ = now;
    }
  }

  void Release() {
    if (!payload_) return;
    payload_.reset();  // a running job holds its own reference and frees the rest when it ends
    state_->live.erase(this);
    if (!state_->tearingDown && bytes_) Napi::MemoryManagement::AdjustExternalMemory(this->Env(), -bytes_);
    bytes_ = 0;
  }

  std::shared_ptr<AddonState> state_;
  std::shared_ptr<Payload> payload_;
  int64_t bytes_ = 0;
  bool busy_ = false;
  bool disposePending_ = false;
};

}  // namespace roots
