#include "quantize.h"
#include "bert.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <sys/stat.h>

namespace roots {

namespace {

const char* kSiteNames[4][3] = {
    {"attention.self.query", "attention.self.key", "attention.self.value"},
    {"attention.output.dense", nullptr, nullptr},
    {"intermediate.dense", nullptr, nullptr},
    {"output.dense", nullptr, nullptr},
};
int SiteParts(int s) { return s == 0 ? 3 : 1; }
std::string ModuleName(int64_t layer, int s, int part) {
  return "bert.encoder.layer." + std::to_string(layer) + "." + kSiteNames[s][part];
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The engines in order of preference: x86 (2.x: fbgemm's kernels with oneDNN's where they are
// faster), fbgemm, oneDNN (the one Debian's 1.13 has), QNNPACK (made for ARM; 3x slower than
// oneDNN here, measured in bench/results/2026-11-30-int8.md).
const char* kPreference[] = {"x86", "fbgemm", "onednn", "qnnpack"};

at::QEngine EngineByName(const std::string& name) {
  for (auto e : at::globalContext().supportedQEngines())
    if (Lower(c10::toString(e)) == name) return e;
  std::string list;
  for (const auto& n : QuantizedLinears::Engines()) list += (list.empty() ? "" : ", ") + n;
  throw RootsException("ERR_UNSUPPORTED", "quantized engine '" + name + "' is not in this LibTorch (it has: " +
                                              (list.empty() ? "none" : list) + "; ROOTS_QENGINE chooses one)");
}

// The two operators, through the dispatcher: their packed-weight class has no public C++ header in
// every LibTorch we build against, and the boxed call needs none (the pack stays an IValue).
c10::IValue Prepack(const torch::Tensor& qweight, const torch::Tensor& bias) {
  static const c10::OperatorHandle op = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_prepack", "");
  std::vector<c10::IValue> stack{qweight, bias};
  op.callBoxed(&stack);
  return stack.at(0);
}

torch::Tensor LinearDynamic(const torch::Tensor& x, const c10::IValue& packed) {
  static const c10::OperatorHandle op = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_dynamic", "");
  // reduce_range=True: what torch.ao.nn.quantized.dynamic.Linear passes (7-bit activations on
  // x86/fbgemm, where 8 bits can saturate vpmaddubsw's 16-bit sums; oneDNN and QNNPACK ignore it).
  std::vector<c10::IValue> stack{x, packed, true};
  op.callBoxed(&stack);
  return stack.at(0).toTensor();
}

// LibTorch 2.x warns (once, on stderr) that creating quantized tensors is deprecated; roots creates
// them only to hand weights to quantized::linear_prepack, so that one warning is dropped here (on
// this thread: 2.x's warning handler is per thread) and every other passes on.
#if ROOTS_TORCH_AT_LEAST(2, 0)
class DropQuantizedCreationWarning : public c10::WarningHandler {
 public:
  explicit DropQuantizedCreationWarning(c10::WarningHandler* next) : next_(next) {}
  void process(const c10::Warning& w) override {
    if (w.msg().find("quantized tensor creation functions") == std::string::npos && next_) next_->process(w);
  }
 private:
  c10::WarningHandler* next_;
};
struct QuietQuantizedCreation {
  DropQuantizedCreationWarning handler{c10::WarningUtils::get_warning_handler()};
  c10::WarningUtils::WarningHandlerGuard guard{&handler};
};
#else
struct QuietQuantizedCreation {};
#endif

// PerChannelMinMaxObserver(qint8, per_channel_symmetric).calculate_qparams, op for op: the scale is
// max(|min|, |max|) / 127.5 per output channel (at least float32's eps), zero points 0.
std::pair<torch::Tensor, torch::Tensor> QuantizeWeight(const torch::Tensor& w) {
  auto wf = w.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  auto [mn, mx] = at::aminmax(wf, 1);
  auto zeros = torch::zeros_like(mn);
  auto pos = at::maximum(at::minimum(mn, zeros).neg(), at::maximum(mx, zeros));
  auto scale = at::maximum(pos / ((127.0 - -128.0) / 2), torch::full_like(pos, std::numeric_limits<float>::epsilon()));
  QuietQuantizedCreation quiet;
  auto q = at::quantize_per_channel(wf, scale.to(torch::kFloat64), torch::zeros({wf.size(0)}, torch::kInt64), 0, torch::kQInt8);
  return {q.int_repr(), scale};
}

}  // namespace

std::vector<std::string> QuantizedLinears::Engines() {
  std::vector<std::string> have, out;
  for (auto e : at::globalContext().supportedQEngines()) have.push_back(Lower(c10::toString(e)));
  for (const char* p : kPreference)
    if (std::find(have.begin(), have.end(), p) != have.end()) out.push_back(p);
  return out;
}

QuantizedLinears::QuantizedLinears(const Bert& model, std::string engine) : model_(model) {
  if (!model.device().is_cpu())
    throw RootsException("ERR_UNSUPPORTED", "int8 inference runs on CPU; this model is on " + model.device().str() + " (load it with device 'cpu')");
  if (engine.empty()) {
    const char* env = std::getenv("ROOTS_QENGINE");
    if (env && *env) engine = env;
  }
  if (engine.empty()) {
    auto all = Engines();
    if (all.empty()) throw RootsException("ERR_UNSUPPORTED", "this LibTorch has no quantized engine (at::globalContext().supportedQEngines() is empty); int8 inference needs one");
    engine = all.front();
  }
  EngineByName(engine);
  engine_ = engine;
  layers_.resize(model.config().num_hidden_layers);
}

void QuantizedLinears::pack(int64_t layer, Site s, torch::Tensor weight, torch::Tensor scale) {
  const int si = static_cast<int>(s);
  std::vector<torch::Tensor> biases;
  for (int p = 0; p < SiteParts(si); p++) biases.push_back(*model_.find(ModuleName(layer, si, p) + ".bias"));
  auto bias = at::cat(biases).to(torch::kFloat32).contiguous();
  QuietQuantizedCreation quiet;
  auto q = at::_make_per_channel_quantized_tensor(weight.to(torch::kInt8).contiguous(), scale.to(torch::kFloat64),
                                                   torch::zeros({weight.size(0)}, torch::kInt64), 0);
  // Packing follows the global engine: set it for this call and put back what was there.
  auto& ctx = at::globalContext();
  const at::QEngine before = ctx.qEngine();
  ctx.setQEngine(EngineByName(engine_));
  try {
    layers_[layer][si] = {weight.to(torch::kInt8).contiguous(), scale.to(torch::kFloat32).contiguous(), Prepack(q, bias)};
  } catch (...) {
    ctx.setQEngine(before);
    throw;
  }
  ctx.setQEngine(before);
}

std::shared_ptr<QuantizedLinears> QuantizedLinears::FromModel(const Bert& model, const std::string& engine) {
  std::shared_ptr<QuantizedLinears> q(new QuantizedLinears(model, engine));
  torch::NoGradGuard ng;
  for (int64_t l = 0; l < model.config().num_hidden_layers; l++)
    for (int s = 0; s < 4; s++) {
      // Per output channel, so the fused [3H, H] query/key/value weight quantises exactly as the three apart.
      std::vector<torch::Tensor> ws;
      for (int p = 0; p < SiteParts(s); p++) ws.push_back(*model.find(ModuleName(l, s, p) + ".weight"));
      auto [w8, scale] = QuantizeWeight(at::cat(ws));
      q->pack(l, static_cast<Site>(s), w8, scale);
    }
  return q;
}

std::shared_ptr<QuantizedLinears> QuantizedLinears::FromInt8(Bert& model, const std::map<std::string, std::pair<torch::Tensor, torch::Tensor>>& modules,
                                                             const std::string& engine) {
  std::shared_ptr<QuantizedLinears> q(new QuantizedLinears(model, engine));
  torch::NoGradGuard ng;
  // Checked in full before any parameter changes.
  for (int64_t l = 0; l < model.config().num_hidden_layers; l++)
    for (int s = 0; s < 4; s++)
      for (int p = 0; p < SiteParts(s); p++) {
        const std::string name = ModuleName(l, s, p);
        auto it = modules.find(name);
        if (it == modules.end()) throw RootsException("ERR_CHECKPOINT", "the quantized checkpoint lacks " + name + ".weight (int8) and its .weight_scale");
        auto target = *model.find(name + ".weight");
        const auto& [w, sc] = it->second;
        if (w.sizes() != target.sizes() || sc.dim() != 1 || sc.size(0) != target.size(0))
          throw RootsException("ERR_CHECKPOINT", name + ": int8 weight " + c10::str(w.sizes()) + " and scale " + c10::str(sc.sizes()) +
                                                     " do not fit the model's " + c10::str(target.sizes()));
        if (!at::isfinite(sc).all().item<bool>() || !(sc > 0).all().item<bool>())
          throw RootsException("ERR_CHECKPOINT", name + ".weight_scale: every scale must be finite and positive");
      }
  for (int64_t l = 0; l < model.config().num_hidden_layers; l++)
    for (int s = 0; s < 4; s++) {
      std::vector<torch::Tensor> ws, scs;
      for (int p = 0; p < SiteParts(s); p++) {
        const auto& [w, sc] = modules.at(ModuleName(l, s, p));
        model.find(ModuleName(l, s, p) + ".weight")->copy_(w.to(torch::kFloat32) * sc.to(torch::kFloat32).unsqueeze(1));
        ws.push_back(w);
        scs.push_back(sc);
      }
      q->pack(l, static_cast<Site>(s), at::cat(ws), at::cat(scs));
    }
  return q;
}

torch::Tensor QuantizedLinears::linear(const torch::Tensor& x, int64_t layer, Site s) const {
  return LinearDynamic(x.to(torch::kFloat32).contiguous(), layers_.at(layer)[static_cast<int>(s)].packed);
}

std::vector<std::pair<std::string, torch::Tensor>> QuantizedLinears::checkpointTensors(const Bert& model) const {
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> byName;  // "<module>.weight" -> (int8, scale)
  for (int64_t l = 0; l < static_cast<int64_t>(layers_.size()); l++)
    for (int s = 0; s < 4; s++) {
      const auto& m = layers_[l][s];
      const int64_t rows = m.weight.size(0) / SiteParts(s);
      for (int p = 0; p < SiteParts(s); p++)
        byName[ModuleName(l, s, p) + ".weight"] = {m.weight.narrow(0, p * rows, rows), m.scale.narrow(0, p * rows, rows)};
    }
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& [name, t] : model.named()) {
    auto it = byName.find(name);
    if (it == byName.end()) { out.emplace_back(name, t); continue; }
    out.emplace_back(name, it->second.first);
    out.emplace_back(name + "_scale", it->second.second);
  }
  return out;
}

std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> ReadQuantizedModules(const std::string& path,
                                                                                     const std::vector<QuantizeLoadModule>& modules) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw RootsException("ERR_IO", "cannot read " + path);
  std::ifstream f(path, std::ios::binary);
  if (!f) throw RootsException("ERR_IO", "cannot open " + path);
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> out;
  for (const auto& m : modules) {
    if (m.weight.dtype != "I8") throw RootsException("ERR_CHECKPOINT", path + ": " + m.module + ".weight has dtype " + m.weight.dtype + ", expected I8");
    // Read as float32 (exact for int8 values) and back.
    auto w = ReadSafetensorsEntry(f, static_cast<int64_t>(st.st_size), m.weight, path);
    auto sc = ReadSafetensorsEntry(f, static_cast<int64_t>(st.st_size), m.scale, path);
    if (w.dim() != 2) throw RootsException("ERR_CHECKPOINT", path + ": " + m.module + ".weight must be 2-D");
    out[m.module] = {w.to(torch::kInt8), sc};
  }
  return out;
}

}  // namespace roots
