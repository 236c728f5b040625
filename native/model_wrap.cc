// Model: the JS-visible BERT engine object. All tensors live inside it; batches come in as
// Int32Arrays, results go out as numbers and Float32Arrays. One async job at a time.
#include <fstream>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <sys/stat.h>

#include "bert.h"
#include "checkpoint.h"

namespace roots {

namespace {

int64_t GetInt(Napi::Object o, const char* key, int64_t def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsNumber()) throw MakeError(o.Env(), "ERR_INVALID_ARG", std::string("Expected a number for ") + key);
  return static_cast<int64_t>(v.As<Napi::Number>().DoubleValue());
}
double GetNum(Napi::Object o, const char* key, double def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsNumber()) throw MakeError(o.Env(), "ERR_INVALID_ARG", std::string("Expected a number for ") + key);
  return v.As<Napi::Number>().DoubleValue();
}
std::string GetStr(Napi::Object o, const char* key, const std::string& def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsString()) throw MakeError(o.Env(), "ERR_INVALID_ARG", std::string("Expected a string for ") + key);
  return v.As<Napi::String>().Utf8Value();
}
std::vector<int64_t> GetShape(Napi::Env env, Napi::Value v) {
  if (!v.IsArray()) throw MakeError(env, "ERR_INVALID_ARG", "Expected an array for shape");
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> s;
  for (uint32_t i = 0; i < a.Length(); i++) s.push_back(static_cast<int64_t>(a.Get(i).As<Napi::Number>().DoubleValue()));
  return s;
}
Napi::Array ShapeToJs(Napi::Env env, at::IntArrayRef s) {
  auto a = Napi::Array::New(env, s.size());
  for (size_t i = 0; i < s.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(s[i])));
  return a;
}

BertConfig ParseConfig(Napi::Object o) {
  BertConfig c;
  c.vocab_size = GetInt(o, "vocab_size", c.vocab_size);
  c.hidden_size = GetInt(o, "hidden_size", c.hidden_size);
  c.num_hidden_layers = GetInt(o, "num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = GetInt(o, "num_attention_heads", c.num_attention_heads);
  c.intermediate_size = GetInt(o, "intermediate_size", c.intermediate_size);
  c.hidden_act = GetStr(o, "hidden_act", c.hidden_act);
  c.hidden_dropout_prob = GetNum(o, "hidden_dropout_prob", c.hidden_dropout_prob);
  c.attention_probs_dropout_prob = GetNum(o, "attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  c.classifier_dropout = GetNum(o, "classifier_dropout", -1);
  c.max_position_embeddings = GetInt(o, "max_position_embeddings", c.max_position_embeddings);
  c.type_vocab_size = GetInt(o, "type_vocab_size", c.type_vocab_size);
  c.layer_norm_eps = GetNum(o, "layer_norm_eps", c.layer_norm_eps);
  c.initializer_range = GetNum(o, "initializer_range", c.initializer_range);
  c.pad_token_id = GetInt(o, "pad_token_id", c.pad_token_id);
  c.head = GetStr(o, "head", c.head);
  c.num_labels = GetInt(o, "num_labels", c.num_labels);
  c.num_labels_2 = GetInt(o, "num_labels_2", 0);
  c.aux_loss_weight = GetNum(o, "aux_loss_weight", 1.0);
  c.problem_type = GetStr(o, "problem_type", c.problem_type);
  c.fused_qkv = GetInt(o, "fused_qkv", 1) != 0;
  Napi::Value cw = o.Get("class_weights");
  if (cw.IsArray()) {
    auto a = cw.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsNumber() || !(v.As<Napi::Number>().DoubleValue() >= 0))
        throw MakeError(o.Env(), "ERR_CONFIG", "class_weights must be non-negative numbers");
      c.class_weights.push_back(v.As<Napi::Number>().DoubleValue());
    }
  }
  c.seed = static_cast<uint64_t>(GetNum(o, "seed", 42));
  for (auto* p : {&c.vocab_size, &c.hidden_size, &c.num_hidden_layers, &c.num_attention_heads, &c.intermediate_size,
                  &c.max_position_embeddings, &c.type_vocab_size})
    if (*p <= 0) throw MakeError(o.Env(), "ERR_CONFIG", "config sizes must be positive integers");
  return c;
}

}  // namespace

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model", {
      InstanceMethod("forward", &ModelWrap::Forward),
      InstanceMethod("trainStep", &ModelWrap::TrainStep),
      InstanceMethod("parameterInfo", &ModelWrap::ParameterInfo),
      InstanceMethod("getParameter", &ModelWrap::GetParameter),
      InstanceMethod("setParameter", &ModelWrap::SetParameter),
      InstanceMethod("getGradient", &ModelWrap::GetGradient),
      InstanceMethod("initWeights", &ModelWrap::InitWeights),
      InstanceMethod("setFrozen", &ModelWrap::SetFrozen),
      InstanceMethod("setPrecision", &ModelWrap::SetPrecision),
      InstanceMethod("loadSafetensors", &ModelWrap::LoadSafetensors),
      InstanceMethod("save", &ModelWrap::Save),
      InstanceMethod("dispose", &ModelWrap::Dispose),
      InstanceAccessor("disposed", &ModelWrap::Disposed, nullptr),
      InstanceAccessor("busy", &ModelWrap::Busy, nullptr),
      InstanceAccessor("numParameters", &ModelWrap::NumParameters, nullptr),
      InstanceAccessor("optimizerStep", &ModelWrap::GetOptimizerStep, &ModelWrap::SetOptimizerStep),
      InstanceAccessor("device", &ModelWrap::Device, nullptr),
    });
  }

  ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    Napi::Env env = info.Env();
    BertConfig config = ParseConfig(ArgObject(info, 0, "config"));
    std::string dev = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "cpu";
    CallGuarded(env, [&] {
      torch::Device device(dev);
      if (device.is_cuda() && !torch::cuda::is_available())
        throw RootsException("ERR_UNSUPPORTED", "device '" + dev + "' requested but CUDA is not available in this build or machine");
      model_ = std::make_shared<Bert>(config, device);
    });
    bytes_ = HostBytes();
    Napi::MemoryManagement::AdjustExternalMemory(env, bytes_);
    Counters::models++;
  }

  ~ModelWrap() override { Release(); }

  static bool tearingDown;

 private:
  // ---- lifecycle -------------------------------------------------------------------------------
  void Release() {
    if (!model_) return;
    model_.reset();
    Counters::models--;
    if (!tearingDown) Napi::MemoryManagement::AdjustExternalMemory(Env(), -bytes_);
  }
  // Memory the model holds in this process's heap (what V8 is told about); a CUDA model's tensors
  // live on the device and would only make V8 collect garbage more often.
  int64_t HostBytes() const { return model_ && model_->device().is_cpu() ? model_->numBytes() : 0; }
  Bert& Check(Napi::Env env) {
    if (!model_ || disposePending_) throw MakeError(env, "ERR_DISPOSED", "the model was used after dispose()");
    if (busy_) throw MakeError(env, "ERR_BUSY", "the model is busy: await the running call before starting another");
    return *model_;
  }
  Napi::Promise Run(Napi::Env env, const char* name, Job::Work work, Job::Done done) {
    busy_ = true;
    return Job::Queue(env, name, std::move(work), std::move(done), [this] {
      busy_ = false;
      int64_t now = HostBytes();
      if (model_ && now != bytes_ && !tearingDown) {  // optimizer state appeared
        Napi::MemoryManagement::AdjustExternalMemory(Env(), now - bytes_);
        bytes_ = now;
      }
      if (disposePending_) { disposePending_ = false; Release(); }
    }, Value());
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (busy_) disposePending_ = true;  // freed when the running job finishes
    else Release();
    return info.Env().Undefined();
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !model_ || disposePending_); }
  Napi::Value Busy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), busy_); }
  Napi::Value NumParameters(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Check(info.Env()).numParameters()));
  }
  Napi::Value GetOptimizerStep(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Check(info.Env()).optimizerStep()));
  }
  void SetOptimizerStep(const Napi::CallbackInfo& info, const Napi::Value& v) {
    Check(info.Env()).setOptimizerStep(static_cast<int64_t>(v.As<Napi::Number>().DoubleValue()));
  }
  Napi::Value Device(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), Check(info.Env()).device().str());
  }

  // ---- batches ----------------------------------------------------------------------------------
  // Copies and validates a JS batch on the JS thread; ids become int64 on the worker thread.
  BatchTensors ReadBatch(Napi::Env env, Napi::Object o, bool needLabels) {
    const auto& c = model_->config();
    BatchTensors b;
    b.batch = GetInt(o, "batchSize", -1);
    b.seq = GetInt(o, "seqLen", -1);
    if (b.batch <= 0) throw MakeError(env, "ERR_INVALID_ARG", "Expected positive integer for batchSize but received " + std::to_string(b.batch));
    if (b.seq <= 0) throw MakeError(env, "ERR_INVALID_ARG", "Expected positive integer for seqLen but received " + std::to_string(b.seq));
    if (b.seq > c.max_position_embeddings)
      throw MakeError(env, "ERR_INVALID_ARG", "seqLen " + std::to_string(b.seq) + " is longer than max_position_embeddings (" +
                                                  std::to_string(c.max_position_embeddings) + ")");
    const int64_t n = b.batch * b.seq;
    auto check = [&](const torch::Tensor& t, const char* field, int64_t lo, int64_t hi, bool allowIgnore) {
      const int32_t* p = t.data_ptr<int32_t>();
      for (int64_t i = 0; i < t.numel(); i++) {
        if ((p[i] < lo || p[i] >= hi) && !(allowIgnore && p[i] == -100))
          throw MakeError(env, "ERR_INVALID_ARG", std::string(field) + "[" + std::to_string(i) + "] = " + std::to_string(p[i]) +
                                                      " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + ")" +
                                                      (allowIgnore ? " (or -100 to ignore)" : ""));
      }
    };
    b.input_ids = CopyInt32Array(env, o.Get("inputIds"), "inputIds", n);
    check(b.input_ids, "inputIds", 0, c.vocab_size, false);
    b.input_ids = b.input_ids.view({b.batch, b.seq});
    Napi::Value am = o.Get("attentionMask");
    b.attention_mask = am.IsUndefined() ? torch::ones({b.batch, b.seq}, torch::kInt32)
                                        : CopyInt32Array(env, am, "attentionMask", n).view({b.batch, b.seq});
    {  // counted here, on the host, so that the step does not wait on the device for it
      const int32_t* m = b.attention_mask.data_ptr<int32_t>();
      int64_t t = 0;
      for (int64_t i = 0; i < n; i++) t += m[i];
      b.tokens = t;
    }
    Napi::Value tt = o.Get("tokenTypeIds");
    b.token_type_ids = tt.IsUndefined() ? torch::zeros({b.batch, b.seq}, torch::kInt32)
                                        : CopyInt32Array(env, tt, "tokenTypeIds", n).view({b.batch, b.seq});
    check(b.token_type_ids, "tokenTypeIds", 0, c.type_vocab_size, false);
    const std::string& h = c.head;
    Napi::Value labels = o.Get("labels");
    Napi::Value labelsFloat = o.Get("labelsFloat");
    if (h == "token" || h == "mlm") {
      if (!labels.IsUndefined()) {
        b.labels = CopyInt32Array(env, labels, "labels", n);
        check(b.labels, "labels", 0, h == "mlm" ? c.vocab_size : c.num_labels, true);
        b.labels = b.labels.view({b.batch, b.seq});
      }
    } else if (h == "sequence") {
      if (c.problem_type == "single_label_classification" && !labels.IsUndefined()) {
        b.labels = CopyInt32Array(env, labels, "labels", b.batch);
        check(b.labels, "labels", 0, c.num_labels, true);
      } else if (c.problem_type != "single_label_classification" && !labelsFloat.IsUndefined()) {
        b.labels = CopyFloat32Array(env, labelsFloat, "labelsFloat", b.batch * c.num_labels).view({b.batch, c.num_labels});
      } else if (c.problem_type != "single_label_classification" && !labels.IsUndefined()) {
        throw MakeError(env, "ERR_INVALID_ARG", "a " + c.problem_type + " model takes labelsFloat (Float32Array of batchSize * numLabels)");
      }
    } else if (h == "qa") {
      Napi::Value sp = o.Get("startPositions"), ep = o.Get("endPositions");
      if (!sp.IsUndefined() || !ep.IsUndefined()) {
        b.start_positions = CopyInt32Array(env, sp, "startPositions", b.batch);
        b.end_positions = CopyInt32Array(env, ep, "endPositions", b.batch);
      }
    } else if (h == "intent-slots") {
      if (!labels.IsUndefined()) {
        b.labels = CopyInt32Array(env, labels, "labels", b.batch);
        check(b.labels, "labels", 0, c.num_labels, true);
      }
      Napi::Value l2 = o.Get("slotLabels");
      if (!l2.IsUndefined()) {
        b.labels2 = CopyInt32Array(env, l2, "slotLabels", n);
        check(b.labels2, "slotLabels", 0, c.num_labels_2, true);
        b.labels2 = b.labels2.view({b.batch, b.seq});
      }
    }
    if (needLabels && !b.labels.defined() && !b.start_positions.defined())
      throw MakeError(env, "ERR_INVALID_ARG", "trainStep needs targets: " + std::string(
        h == "qa" ? "startPositions and endPositions" : (h == "sequence" && c.problem_type != "single_label_classification") ? "labelsFloat" : "labels"));
    return b;
  }

  // On the worker thread: integer tensors to int64 on the model's device. Off the CPU, every int32
  // tensor of the batch goes into one pinned staging buffer and over in one asynchronous copy (the
  // pinned allocator keeps the buffer until the copy is done); the widening to int64 runs there.
  static void ToDevice(BatchTensors& b, torch::Device d) {
    std::vector<torch::Tensor*> ints;
    for (auto* t : {&b.input_ids, &b.attention_mask, &b.token_type_ids, &b.labels, &b.labels2, &b.start_positions, &b.end_positions})
      if (t->defined() && t->scalar_type() == torch::kInt32) ints.push_back(t);
    if (d.is_cpu()) {
      for (auto* t : ints) *t = t->to(torch::kInt64);
      return;
    }
    int64_t total = 0;
    for (auto* t : ints) total += t->numel();
    if (total > 0) {
      auto staging = torch::empty({total}, torch::TensorOptions().dtype(torch::kInt32).pinned_memory(true));
      int32_t* dst = staging.data_ptr<int32_t>();
      for (auto* t : ints) {
        auto c = t->contiguous();
        std::memcpy(dst, c.data_ptr<int32_t>(), c.numel() * sizeof(int32_t));
        dst += c.numel();
      }
      auto onDevice = staging.to(d, /*non_blocking=*/true).to(torch::kInt64);
      int64_t off = 0;
      for (auto* t : ints) {
        auto sizes = t->sizes().vec();
        const int64_t numel = t->numel();
        *t = onDevice.narrow(0, off, numel).view(sizes);
        off += numel;
      }
    }
    // Float targets (multi-label, regression): small, a plain copy.
    for (auto* t : {&b.labels, &b.labels2})
      if (t->defined() && t->device() != d) *t = t->to(d);
  }

  // ---- compute ---------------------------------------------------------------------------------
  // forward(batch): eval-mode forward, no gradients. Resolves to { logits, dims, logits2?, dims2?, loss? }.
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Check(env);
    auto b = std::make_shared<BatchTensors>(ReadBatch(env, ArgObject(info, 0, "batch"), false));
    auto model = model_;
    auto out = std::make_shared<ForwardOut>();
    (void)m;
    return Run(env, "roots.model.forward",
      [model, b, out] {
        torch::NoGradGuard ng;
        ToDevice(*b, model->device());
        AutocastGuard ac(model->precision() == "bf16", model->device().type());
        *out = model->forward(*b, false);
        out->logits = out->logits.to(torch::kCPU, torch::kFloat32).contiguous();
        if (out->logits2.defined()) out->logits2 = out->logits2.to(torch::kCPU, torch::kFloat32).contiguous();
        if (out->loss.defined()) out->loss = out->loss.to(torch::kCPU, torch::kFloat32);
      },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("logits", ToFloat32Array(env, out->logits));
        r.Set("dims", ShapeToJs(env, out->logits.sizes()));
        if (out->logits2.defined()) {
          r.Set("logits2", ToFloat32Array(env, out->logits2));
          r.Set("dims2", ShapeToJs(env, out->logits2.sizes()));
        }
        if (out->loss.defined()) r.Set("loss", out->loss.item<double>());
        return r;
      });
  }

  // trainStep(batches[], { lr, maxGradNorm, weightDecay, beta1, beta2, eps, rngSeed }):
  // forward, loss, backward over every micro-batch (gradient accumulation), clip, AdamW.
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Check(env);
    if (info.Length() < 1 || !info[0].IsArray()) throw MakeError(env, "ERR_INVALID_ARG", "Expected an array of batches");
    auto arr = info[0].As<Napi::Array>();
    if (arr.Length() == 0) throw MakeError(env, "ERR_INVALID_ARG", "Expected at least one batch");
    auto micro = std::make_shared<std::vector<BatchTensors>>();
    for (uint32_t i = 0; i < arr.Length(); i++) micro->push_back(ReadBatch(env, arr.Get(i).As<Napi::Object>(), true));
    Napi::Object o = ArgObject(info, 1, "options");
    double lr = GetNum(o, "lr", -1);
    if (!(lr >= 0)) throw MakeError(env, "ERR_INVALID_ARG", "Expected a non-negative number for lr");
    double maxGradNorm = GetNum(o, "maxGradNorm", 0);
    AdamWOptions opt;
    opt.weight_decay = GetNum(o, "weightDecay", 0);
    opt.beta1 = GetNum(o, "beta1", 0.9);
    opt.beta2 = GetNum(o, "beta2", 0.999);
    opt.eps = GetNum(o, "eps", 1e-8);
    uint64_t seed = static_cast<uint64_t>(GetNum(o, "rngSeed", 0));
    auto model = model_;
    auto res = std::make_shared<StepResult>();
    return Run(env, "roots.model.trainStep",
      [model, micro, lr, maxGradNorm, opt, seed, res] {
        for (auto& b : *micro) ToDevice(b, model->device());
        // ROOTS_PROFILE=trace.json records one step as a chrome trace (for performance work).
        static const char* profile = std::getenv("ROOTS_PROFILE");
        std::unique_ptr<torch::autograd::profiler::RecordProfile> rec;
        if (profile && model->optimizerStep() == 3) rec = std::make_unique<torch::autograd::profiler::RecordProfile>(std::string(profile));
        *res = model->trainStep(*micro, lr, maxGradNorm, opt, seed);
      },
      [res, model](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("loss", res->loss);
        r.Set("gradNorm", res->grad_norm);
        r.Set("skipped", res->skipped);
        r.Set("tokens", static_cast<double>(res->tokens));
        r.Set("step", static_cast<double>(model->optimizerStep()));
        return r;
      });
  }

  // ---- parameters ------------------------------------------------------------------------------
  Napi::Value ParameterInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Check(env);
    auto frozen = m.frozenNames();
    std::set<std::string> fz(frozen.begin(), frozen.end());
    auto a = Napi::Array::New(env);
    uint32_t i = 0;
    for (const auto& [name, t] : m.named()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", name);
      o.Set("shape", ShapeToJs(env, t.sizes()));
      o.Set("trainable", !fz.count(name));
      a.Set(i++, o);
    }
    return a;
  }
  Napi::Value GetParameter(const Napi::CallbackInfo& info) {
    Bert& m = Check(info.Env());
    std::string name = ArgString(info, 0, "name");
    auto t = m.find(name);
    if (!t) throw MakeError(info.Env(), "ERR_INVALID_ARG", "no parameter named '" + name + "'");
    return ToFloat32Array(info.Env(), *t);
  }
  Napi::Value GetGradient(const Napi::CallbackInfo& info) {
    Bert& m = Check(info.Env());
    std::string name = ArgString(info, 0, "name");
    return CallGuarded(info.Env(), [&]() -> Napi::Value { return ToFloat32Array(info.Env(), m.gradOf(name)); });
  }
  Napi::Value SetParameter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Check(env);
    std::string name = ArgString(info, 0, "name");
    auto t = m.find(name);
    if (!t) throw MakeError(env, "ERR_INVALID_ARG", "no parameter named '" + name + "'");
    auto src = CopyFloat32Array(env, info[1], "values", t->numel());
    CallGuarded(env, [&] { torch::NoGradGuard ng; t->copy_(src.view(t->sizes())); });
    return env.Undefined();
  }
  Napi::Value InitWeights(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Check(env);
    uint64_t seed = static_cast<uint64_t>(ArgNumber(info, 0, "seed"));
    std::vector<std::string> names;
    if (info.Length() > 1 && info[1].IsArray()) {
      auto a = info[1].As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) names.push_back(a.Get(i).As<Napi::String>().Utf8Value());
      CallGuarded(env, [&] { m.initWeights(seed, names); });
    } else {
      CallGuarded(env, [&] { m.initWeights(seed); });
    }
    return env.Undefined();
  }
  Napi::Value SetFrozen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Check(env);
    std::vector<std::string> pats;
    if (info.Length() > 0 && info[0].IsArray()) {
      auto a = info[0].As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) pats.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
    CallGuarded(env, [&] { m.setFrozen(pats); });
    auto names = m.frozenNames();
    auto out = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); i++) out.Set(static_cast<uint32_t>(i), names[i]);
    return out;
  }
  Napi::Value SetPrecision(const Napi::CallbackInfo& info) {
    Bert& m = Check(info.Env());
    std::string p = ArgString(info, 0, "precision");
    if (p != "fp32" && p != "bf16") throw MakeError(info.Env(), "ERR_INVALID_ARG", "Expected 'fp32' or 'bf16' for precision but received '" + p + "'");
    m.setPrecision(p);
    return info.Env().Undefined();
  }

  // ---- checkpoints -----------------------------------------------------------------------------
  // Resolves a load target: a parameter name, or optim:<group>.<exp_avg|exp_avg_sq>.
  static torch::Tensor Target(Bert& m, const std::string& t) {
    if (t.rfind("optim:", 0) == 0) {
      m.ensureOptimizerState();
      std::string rest = t.substr(6);
      auto dot = rest.find('.');
      std::string group = rest.substr(0, dot), which = rest.substr(dot + 1);
      auto& g = m.groups()[group == "decay" ? 0 : 1];
      if (which == "exp_avg") return g.exp_avg;
      if (which == "exp_avg_sq") return g.exp_avg_sq;
      throw RootsException("ERR_CHECKPOINT", "unknown optimizer tensor " + t);
    }
    auto p = m.find(t);
    if (!p) throw RootsException("ERR_CHECKPOINT", "no parameter named " + t);
    return *p;
  }

  // loadSafetensors(path, entries[{ target, dtype, shape, begin, end }]): entries come from the
  // header parsed and matched in TS; shapes were checked there and are checked again here.
  Napi::Value LoadSafetensors(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Check(env);
    std::string path = ArgString(info, 0, "path");
    if (info.Length() < 2 || !info[1].IsArray()) throw MakeError(env, "ERR_INVALID_ARG", "Expected an array of entries");
    auto a = info[1].As<Napi::Array>();
    auto entries = std::make_shared<std::vector<TensorEntry>>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      auto o = a.Get(i).As<Napi::Object>();
      TensorEntry e;
      e.target = GetStr(o, "target", "");
      e.dtype = GetStr(o, "dtype", "");
      e.shape = GetShape(env, o.Get("shape"));
      e.begin = GetInt(o, "begin", -1);
      e.end = GetInt(o, "end", -1);
      entries->push_back(e);
    }
    (void)m;
    auto model = model_;
    return Run(env, "roots.model.loadSafetensors",
      [model, path, entries] {
        struct stat st;
        if (stat(path.c_str(), &st) != 0) throw RootsException("ERR_IO", "cannot read " + path);
        std::ifstream f(path, std::ios::binary);
        if (!f) throw RootsException("ERR_IO", "cannot open " + path);
        // Read and check everything before writing anything: a bad file leaves the model as it was.
        std::vector<std::pair<torch::Tensor, torch::Tensor>> staged;
        for (const auto& e : *entries) {
          auto dst = Target(*model, e.target);
          auto src = ReadSafetensorsEntry(f, static_cast<int64_t>(st.st_size), e, path);
          if (src.numel() != dst.numel())
            throw RootsException("ERR_CHECKPOINT", path + ": " + e.target + " has " + std::to_string(src.numel()) +
                                                       " values, the model expects " + std::to_string(dst.numel()));
          staged.emplace_back(dst, src);
        }
        torch::NoGradGuard ng;
        for (auto& [dst, src] : staged) dst.copy_(src.view(dst.sizes()));
      },
      nullptr);
  }

  // save(path, what: 'model' | 'optimizer', metadata): writes a safetensors file. The caller
  // gives a temporary path and renames it, so a crash never leaves a half-written checkpoint.
  Napi::Value Save(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Check(env);
    std::string path = ArgString(info, 0, "path");
    std::string what = ArgString(info, 1, "what");
    std::map<std::string, std::string> meta;
    if (info.Length() > 2 && info[2].IsObject()) {
      auto o = info[2].As<Napi::Object>();
      auto keys = o.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); i++) {
        std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
        meta[k] = o.Get(k).ToString().Utf8Value();
      }
    }
    if (what != "model" && what != "optimizer") throw MakeError(env, "ERR_INVALID_ARG", "Expected 'model' or 'optimizer'");
    if (what == "optimizer") meta["step"] = std::to_string(m.optimizerStep());
    auto model = model_;
    return Run(env, "roots.model.save",
      [model, path, what, meta] {
        torch::NoGradGuard ng;
        std::vector<std::pair<std::string, torch::Tensor>> tensors;
        if (what == "model") {
          tensors = model->named();
        } else {
          model->ensureOptimizerState();
          auto& g = model->groups();
          tensors = {{"decay.exp_avg", g[0].exp_avg}, {"decay.exp_avg_sq", g[0].exp_avg_sq},
                     {"no_decay.exp_avg", g[1].exp_avg}, {"no_decay.exp_avg_sq", g[1].exp_avg_sq}};
        }
        WriteSafetensors(path, tensors, meta);
      },
      nullptr);
  }

  std::shared_ptr<Bert> model_;
  int64_t bytes_ = 0;
  bool busy_ = false;
  bool disposePending_ = false;
};

bool ModelWrap::tearingDown = false;

void InitModel(Napi::Env env, Napi::Object exports) {
  exports.Set("Model", ModelWrap::Define(env));
  env.AddCleanupHook([] { ModelWrap::tearingDown = true; });
}

}  // namespace roots
