// Model: the JS-visible BERT engine object. All tensors live inside it; batches come in as
// Int32Arrays, results go out as numbers and Float32Arrays. Its lifecycle (one job at a time,
// dispose, memory, teardown, guarded entry points) is NativeObject's.
#include <fstream>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <sys/stat.h>

#include "batch.h"
#include "bert.h"
#include "checkpoint.h"
#include "continual_wrap.h"
#include "native_object.h"
#include "quantize.h"

namespace roots {

namespace {

std::vector<int64_t> GetShape(Napi::Object o, const char* what) {
  Napi::Value v = o.Get("shape");
  if (!v.IsArray()) throw MakeError(o.Env(), "ERR_INVALID_ARG", std::string("Expected an array for ") + what + ".shape but received " + DescribeValue(v));
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> s;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value d = a.Get(i);
    if (!d.IsNumber()) throw MakeError(o.Env(), "ERR_INVALID_ARG", std::string("Expected numbers in ") + what + ".shape but received " + DescribeValue(d));
    s.push_back(static_cast<int64_t>(d.As<Napi::Number>().DoubleValue()));
  }
  return s;
}

Napi::Array ShapeToJs(Napi::Env env, at::IntArrayRef s) {
  auto a = Napi::Array::New(env, s.size());
  for (size_t i = 0; i < s.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(s[i])));
  return a;
}

std::vector<std::string> StringList(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsArray()) throw MakeError(env, "ERR_INVALID_ARG", std::string("Expected an array of strings for ") + name + " but received " + DescribeValue(v));
  auto a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value s = a.Get(i);
    if (!s.IsString()) throw MakeError(env, "ERR_INVALID_ARG", std::string("Expected a string for ") + name + "[" + std::to_string(i) + "] but received " + DescribeValue(s));
    out.push_back(s.As<Napi::String>().Utf8Value());
  }
  return out;
}

// The size of a label map (config.json's id2label / slot_id2label); -1 when absent.
int64_t LabelCount(Napi::Object config, const char* key) {
  Napi::Value v = config.Get(key);
  if (v.IsUndefined() || v.IsNull()) return -1;
  if (!v.IsObject() || v.IsArray()) throw MakeError(config.Env(), "ERR_INVALID_ARG", std::string("Expected an object for config.") + key + " but received " + DescribeValue(v));
  return static_cast<int64_t>(v.As<Napi::Object>().GetPropertyNames().Length());
}

// The normalised config.json (lib/models/config.ts), read under its own names with every field the
// computation uses required, plus the head and the seed. The values were validated where they
// entered (normalizeConfig); this only reads them.
BertConfig ReadConfig(Napi::Object o, Napi::Object options) {
  const char* w = "config";
  BertConfig c;
  c.vocab_size = RequireInt(o, "vocab_size", w);
  c.hidden_size = RequireInt(o, "hidden_size", w);
  c.num_hidden_layers = RequireInt(o, "num_hidden_layers", w);
  c.num_attention_heads = RequireInt(o, "num_attention_heads", w);
  c.intermediate_size = RequireInt(o, "intermediate_size", w);
  c.hidden_act = RequireString(o, "hidden_act", w);
  c.hidden_dropout_prob = RequireNumber(o, "hidden_dropout_prob", w);
  c.attention_probs_dropout_prob = RequireNumber(o, "attention_probs_dropout_prob", w);
  Napi::Value cd = o.Get("classifier_dropout");  // null: hidden_dropout_prob (Transformers' meaning)
  c.classifier_dropout = cd.IsUndefined() || cd.IsNull() ? -1 : RequireNumber(o, "classifier_dropout", w);
  c.max_position_embeddings = RequireInt(o, "max_position_embeddings", w);
  c.type_vocab_size = RequireInt(o, "type_vocab_size", w);
  c.layer_norm_eps = RequireNumber(o, "layer_norm_eps", w);
  c.initializer_range = RequireNumber(o, "initializer_range", w);
  Napi::Value pad = o.Get("pad_token_id");  // null: no padding row (-1, as at::embedding takes it)
  c.pad_token_id = pad.IsNull() ? -1 : RequireInt(o, "pad_token_id", w);
  Napi::Value pt = o.Get("problem_type");  // null: single-label (our labels are class ids)
  c.problem_type = pt.IsUndefined() || pt.IsNull() ? "single_label_classification" : RequireString(o, "problem_type", w);
  Napi::Value cw = o.Get("class_weights");
  if (!cw.IsUndefined() && !cw.IsNull()) {
    if (!cw.IsArray()) throw MakeError(o.Env(), "ERR_INVALID_ARG", "Expected an array of numbers for config.class_weights but received " + DescribeValue(cw));
    auto a = cw.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsNumber()) throw MakeError(o.Env(), "ERR_INVALID_ARG", "Expected a number for config.class_weights[" + std::to_string(i) + "] but received " + DescribeValue(v));
      c.class_weights.push_back(v.As<Napi::Number>().DoubleValue());
    }
  }
  Napi::Value sp = o.Get("soft_prompt_tokens");  // P-tuning's prompt embeddings (native/prompt.h); absent: none
  c.soft_prompt_tokens = sp.IsUndefined() || sp.IsNull() ? 0 : RequireInt(o, "soft_prompt_tokens", w);
  c.head = RequireString(options, "head", "options");
  c.seed = static_cast<uint64_t>(RequireInt(options, "seed", "options"));
  const std::string& h = c.head;
  if (h == "relation") c.relation_pooling = RequireString(o, "relation_pooling", w);  // native/relation.h
  if (h == "token" || h == "sequence" || h == "intent-slots" || h == "relation") {
    const int64_t n = LabelCount(o, "id2label");
    c.num_labels = n >= 0 ? n : RequireInt(o, "num_labels", w);
    if (c.num_labels < 1) throw MakeError(o.Env(), "ERR_INVALID_ARG", "config has no labels (id2label or num_labels) for the " + h + " head");
  }
  if (h == "intent-slots") {
    c.num_slot_labels = LabelCount(o, "slot_id2label");
    if (c.num_slot_labels < 1) throw MakeError(o.Env(), "ERR_INVALID_ARG", "config has no slot_id2label for the intent-slots head");
    c.slot_loss_weight = RequireNumber(o, "slot_loss_weight", w);
  }
  return c;
}

}  // namespace

class ModelWrap : public NativeObject<ModelWrap, Bert> {
 public:
  static constexpr const char* kKind = "models";
  static constexpr const char* kName = "the model";
  // Memory the model holds in this process's heap (what V8 is told about); a CUDA model's tensors
  // live on the device and would only make V8 collect garbage more often.
  static int64_t HostBytes(const Bert& m) { return m.device().is_cpu() ? m.numBytes() : 0; }

  static Napi::Function Init(Napi::Env env) {
    return Define(env, "Model", {
      Method<&ModelWrap::Forward>("forward"),
      Method<&ModelWrap::TrainStep>("trainStep"),
      Method<&ModelWrap::ParameterInfo>("parameterInfo"),
      Method<&ModelWrap::GetParameter>("getParameter"),
      Method<&ModelWrap::SetParameter>("setParameter"),
      Method<&ModelWrap::GetGradient>("getGradient"),
      Method<&ModelWrap::InitWeights>("initWeights"),
      Method<&ModelWrap::SetFrozen>("setFrozen"),
      Method<&ModelWrap::SetPrecision>("setPrecision"),
      Method<&ModelWrap::LoadSafetensors>("loadSafetensors"),
      Method<&ModelWrap::Save>("save"),
      Method<&ModelWrap::AdapterOp>("adapter"),
      Method<&ModelWrap::ContinualOp>("continual"),
      Method<&ModelWrap::DistributedOp>("distributed"),
      Method<&ModelWrap::QuantizeOp>("quantize"),
      Getter<&ModelWrap::NumParameters>("numParameters"),
      Accessor<&ModelWrap::GetOptimizerStep, &ModelWrap::SetOptimizerStep>("optimizerStep"),
      Getter<&ModelWrap::Device>("device"),
      Getter<&ModelWrap::AdamWKernel>("adamwKernel"),
    });
  }

  // new Model(config, { head, seed, device }): config is the normalised config.json.
  explicit ModelWrap(const Napi::CallbackInfo& info) : NativeObject(info) {
    Napi::Env env = info.Env();
    CallGuarded(env, [&] {
      Napi::Object options = ArgObject(info, 1, "options");
      BertConfig config = ReadConfig(ArgObject(info, 0, "config"), options);
      const std::string dev = RequireString(options, "device", "options");
      torch::Device device(dev);
      if (device.is_cuda() && !torch::cuda::is_available())
        throw RootsException("ERR_UNSUPPORTED", "device '" + dev + "' requested but CUDA is not available in this build or machine");
      Adopt(std::make_shared<Bert>(config, device));
    });
  }

 private:
  Napi::Value NumParameters(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Use(info.Env()).numParameters()));
  }
  Napi::Value GetOptimizerStep(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Use(info.Env()).optimizerStep()));
  }
  void SetOptimizerStep(const Napi::CallbackInfo& info, const Napi::Value& v) {
    Bert& m = Use(info.Env());
    if (!v.IsNumber()) throw MakeError(info.Env(), "ERR_INVALID_ARG", "Expected an integer for optimizerStep but received " + DescribeValue(v));
    m.setOptimizerStep(static_cast<int64_t>(v.As<Napi::Number>().DoubleValue()));
  }
  Napi::Value Device(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), Use(info.Env()).device().str());
  }

  Napi::Value AdamWKernel(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), Use(info.Env()).adamwKernel());
  }

  // ---- compute ---------------------------------------------------------------------------------
  // forward(batch): eval-mode forward, no gradients. Resolves to { logits, dims, logits2?, dims2?, loss? }.
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Use(env);
    auto b = std::make_shared<BatchTensors>(ReadBatch(env, info.Length() > 0 ? info[0] : env.Undefined(), "batch", m.config(), false));
    auto model = payload();
    auto out = std::make_shared<ForwardOut>();
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

  // trainStep(batches[], { learningRate, weightDecay, maxGradNorm, betas, eps, rngSeed }): every
  // option required (resolved once, in lib/models/optimizer.ts). Forward, loss, backward over every
  // micro-batch (gradient accumulation), clip, AdamW.
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Use(env);
    Napi::Value list = info.Length() > 0 ? info[0] : env.Undefined();
    if (!list.IsArray()) throw MakeError(env, "ERR_INVALID_ARG", "Expected an array of Batches for batches but received " + DescribeValue(list));
    auto arr = list.As<Napi::Array>();
    if (arr.Length() == 0) throw MakeError(env, "ERR_INVALID_ARG", "Expected at least one Batch in batches but received an empty array");
    auto micro = std::make_shared<std::vector<BatchTensors>>();
    for (uint32_t i = 0; i < arr.Length(); i++)
      micro->push_back(ReadBatch(env, arr.Get(i), "batches[" + std::to_string(i) + "]", m.config(), true));
    Napi::Object o = ArgObject(info, 1, "options");
    const char* w = "options";
    AdamWOptions opt;
    opt.lr = RequireNumber(o, "learningRate", w);
    opt.weight_decay = RequireNumber(o, "weightDecay", w);
    opt.eps = RequireNumber(o, "eps", w);
    Napi::Value betas = o.Get("betas");
    if (!betas.IsArray() || betas.As<Napi::Array>().Length() != 2 || !betas.As<Napi::Array>().Get(0u).IsNumber() ||
        !betas.As<Napi::Array>().Get(1u).IsNumber())
      throw MakeError(env, "ERR_INVALID_ARG", "Expected a pair of numbers for options.betas but received " + DescribeValue(betas));
    opt.beta1 = betas.As<Napi::Array>().Get(0u).As<Napi::Number>().DoubleValue();
    opt.beta2 = betas.As<Napi::Array>().Get(1u).As<Napi::Number>().DoubleValue();
    const double maxGradNorm = RequireNumber(o, "maxGradNorm", w);
    const uint64_t seed = static_cast<uint64_t>(RequireInt(o, "rngSeed", w));
    ReadDistill(o, *micro, m.config().head == "token");  // LwF's teacher logits (continual_wrap.h)
    auto model = payload();
    auto res = std::make_shared<StepResult>();
    return Run(env, "roots.model.trainStep",
      [model, micro, opt, maxGradNorm, seed, res] {
        for (auto& b : *micro) ToDevice(b, model->device());
        // ROOTS_PROFILE=trace.json records one step as a chrome trace (for performance work).
        static const char* profile = std::getenv("ROOTS_PROFILE");
        std::unique_ptr<torch::autograd::profiler::RecordProfile> rec;
        if (profile && model->optimizerStep() == 3) rec = std::make_unique<torch::autograd::profiler::RecordProfile>(std::string(profile));
        *res = model->trainStep(*micro, opt, maxGradNorm, seed);
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
    Bert& m = Use(env);
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
    Bert& m = Use(info.Env());
    std::string name = ArgString(info, 0, "name");
    auto t = m.find(name);
    if (!t) throw MakeError(info.Env(), "ERR_INVALID_ARG", "no parameter named '" + name + "'");
    return ToFloat32Array(info.Env(), *t);
  }
  Napi::Value GetGradient(const Napi::CallbackInfo& info) {
    Bert& m = Use(info.Env());
    return ToFloat32Array(info.Env(), m.gradOf(ArgString(info, 0, "name")));
  }
  Napi::Value SetParameter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Use(env);
    std::string name = ArgString(info, 0, "name");
    auto t = m.find(name);
    if (!t) throw MakeError(env, "ERR_INVALID_ARG", "no parameter named '" + name + "'");
    auto src = CopyFloat32Array(env, info.Length() > 1 ? info[1] : env.Undefined(), "values", t->numel());
    torch::NoGradGuard ng;
    t->copy_(src.view(t->sizes()));
    return env.Undefined();
  }
  Napi::Value InitWeights(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Use(env);
    uint64_t seed = static_cast<uint64_t>(ArgInt(info, 0, "seed"));
    if (info.Length() > 1 && !info[1].IsUndefined()) m.initWeights(seed, StringList(env, info[1], "names"));
    else m.initWeights(seed);
    return env.Undefined();
  }
  Napi::Value SetFrozen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Use(env);
    m.setFrozen(StringList(env, info.Length() > 0 ? info[0] : env.Undefined(), "patterns"));
    auto names = m.frozenNames();
    auto out = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); i++) out.Set(static_cast<uint32_t>(i), names[i]);
    return out;
  }
  Napi::Value SetPrecision(const Napi::CallbackInfo& info) {
    Bert& m = Use(info.Env());
    std::string p = ArgString(info, 0, "precision");
    if (p != "fp32" && p != "bf16") throw MakeError(info.Env(), "ERR_INVALID_ARG", "Expected 'fp32' or 'bf16' for precision but received '" + p + "'");
    m.setPrecision(p);
    return info.Env().Undefined();
  }

  // adapter(op, name, ...): adapters.h's registry (adapters_wrap.cc).
  Napi::Value AdapterOp(const Napi::CallbackInfo& info) { return AdapterCall(info, Use(info.Env())); }

  // quantize(op, ...): int8 inference (quantize.h); 'dynamic' and 'load' run here as jobs.
  Napi::Value QuantizeOp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Use(env);
    const std::string op = ArgString(info, 0, "op");
    if (op != "dynamic" && op != "load") return QuantizeCall(info, m);
    auto req = std::make_shared<QuantizeRequest>(ReadQuantizeRequest(info));
    auto model = payload();
    return Run(env, "roots.model.quantize", [model, req] { RunQuantize(*model, *req); },
               [model](Napi::Env env) -> Napi::Value { return QuantizeInfo(env, *model); });
  }

  // distributed(op, ...): data parallelism (distributed.h); 'broadcast' runs here as a job.
  Napi::Value DistributedOp(const Napi::CallbackInfo& info) {
    Use(info.Env());
    DistributedCallResult r = DistributedCall(info, payload());
    return r.work ? Napi::Value(Run(info.Env(), "roots.model.distributed", r.work, r.done)) : r.value;
  }

  // continual(op, ...): continual_wrap.cc's dispatcher; 'fisher' (batches[]) runs here as a job.
  Napi::Value ContinualOp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bert& m = Use(env);
    if (ArgString(info, 0, "op") != "fisher") return ContinualCall(info, m);
    Napi::Value list = info.Length() > 1 ? info[1] : env.Undefined();
    if (!list.IsArray()) throw MakeError(env, "ERR_INVALID_ARG", "Expected an array of Batches for batches but received " + DescribeValue(list));
    auto arr = list.As<Napi::Array>();
    auto batches = std::make_shared<std::vector<BatchTensors>>();
    for (uint32_t i = 0; i < arr.Length(); i++)
      batches->push_back(ReadBatch(env, arr.Get(i), "batches[" + std::to_string(i) + "]", m.config(), true));
    auto model = payload();
    return Run(env, "roots.model.fisher",
      [model, batches] {
        for (auto& b : *batches) ToDevice(b, model->device());
        AccumulateFisher(*model, *batches);
      },
      [model](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(model->continual.fisher_batches)); });
  }

  // ---- checkpoints -----------------------------------------------------------------------------
  // Resolves a load target: a parameter name, or optim:<group>.<exp_avg|exp_avg_sq>.
  static torch::Tensor Target(Bert& m, const std::string& t) {
    if (t.rfind("adapter:", 0) == 0) return m.adapters().target(t.substr(8));  // adapter:<name>/<param>
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
    Use(env);
    std::string path = ArgString(info, 0, "path");
    if (info.Length() < 2 || !info[1].IsArray()) throw MakeError(env, "ERR_INVALID_ARG", "Expected an array of entries");
    auto a = info[1].As<Napi::Array>();
    auto entries = std::make_shared<std::vector<TensorEntry>>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsObject()) throw MakeError(env, "ERR_INVALID_ARG", "Expected an object for entries[" + std::to_string(i) + "] but received " + DescribeValue(v));
      auto o = v.As<Napi::Object>();
      TensorEntry e;
      e.target = RequireString(o, "target", "entry");
      e.dtype = RequireString(o, "dtype", "entry");
      e.shape = GetShape(o, "entry");
      e.begin = RequireInt(o, "begin", "entry");
      e.end = RequireInt(o, "end", "entry");
      entries->push_back(e);
    }
    auto model = payload();
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
    Bert& m = Use(env);
    std::string path = ArgString(info, 0, "path");
    std::string what = ArgString(info, 1, "what");
    std::map<std::string, std::string> meta;
    if (info.Length() > 2 && info[2].IsObject()) {
      auto o = info[2].As<Napi::Object>();
      auto keys = o.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); i++) {
        std::string k = keys.Get(i).ToString().Utf8Value();
        meta[k] = o.Get(k).ToString().Utf8Value();
      }
    }
    const bool adapter = what.rfind("adapter:", 0) == 0;  // adapter:<name>: PEFT's adapter_model.safetensors
    if (adapter) m.adapters().get(what.substr(8));
    if (what != "model" && what != "optimizer" && !adapter) throw MakeError(env, "ERR_INVALID_ARG", "Expected 'model', 'optimizer' or 'adapter:<name>'");
    if (what == "optimizer") meta["step"] = std::to_string(m.optimizerStep());
    auto model = payload();
    return Run(env, "roots.model.save",
      [model, path, what, meta] {
        torch::NoGradGuard ng;
        std::vector<std::pair<std::string, torch::Tensor>> tensors;
        if (what == "model") {
          // A quantized model saves its int8 weights and their scales (quantize.h).
          tensors = model->quantized() ? model->quantized()->checkpointTensors(*model) : model->named();
        } else if (what.rfind("adapter:", 0) == 0) {
          tensors = model->adapters().fileTensors(what.substr(8));
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
};

void InitModel(Napi::Env env, Napi::Object exports) { exports.Set("Model", ModelWrap::Init(env)); }

}  // namespace roots
