#include "adapters.h"
#include "bert.h"

#include <algorithm>
#include <cmath>
#include <regex>

namespace roots {

namespace {

const char* kSiteModule[4] = {"attention.self.qkv", "attention.output.dense", "intermediate.dense", "output.dense"};

// A module an adapter may target: an encoder layer's linear projection, query/key/value being slices
// of the fused qkv one.
struct ModuleRef {
  int64_t layer;
  Site site;
  int part;  // 0..2 for query/key/value, else 0
};

ModuleRef ParseModule(const std::string& name, int64_t numLayers) {
  static const std::regex re(
      R"(^bert\.encoder\.layer\.(\d+)\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)$)");
  std::smatch m;
  if (!std::regex_match(name, m, re))
    throw RootsException("ERR_INVALID_ARG",
                         "adapters act on the encoder's linear layers (bert.encoder.layer.N.attention.self.query|key|value, "
                         "attention.output.dense, intermediate.dense, output.dense); '" + name + "' is not one of them");
  ModuleRef r{std::stoll(m[1].str()), Site::kQkv, 0};
  if (r.layer >= numLayers)
    throw RootsException("ERR_INVALID_ARG", "'" + name + "': the model has " + std::to_string(numLayers) + " layers");
  const std::string mod = m[2].str();
  if (m[3].matched) r.part = m[3].str() == "query" ? 0 : m[3].str() == "key" ? 1 : 2;
  else if (mod == "attention.output.dense") r.site = Site::kAttnOut;
  else if (mod == "intermediate.dense") r.site = Site::kInter;
  else r.site = Site::kOut;
  return r;
}

bool NoDecay(const std::string& name) {
  return name.find("LayerNorm") != std::string::npos || (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0);
}

// A parameter to create: its name, shape, group and initial value.
struct Spec {
  std::string name;
  std::vector<int64_t> shape;
  bool decay;
  enum Init { kKaiming, kZeros, kOnes, kNormal, kCopy } init;
  double fanIn = 0;        // kKaiming: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (kaiming_uniform_ with a = sqrt(5))
  torch::Tensor source;    // kCopy
  torch::Tensor* slot = nullptr;
};

}  // namespace

int64_t Adapter::numParameters() const {
  int64_t n = 0;
  for (const auto& g : groups) n += g.data.numel();
  return n;
}

void Adapters::add(const std::string& name, const AdapterConfig& c) {
  if (name.empty()) throw RootsException("ERR_INVALID_ARG", "an adapter needs a non-empty name");
  if (all_.count(name)) throw RootsException("ERR_INVALID_ARG", "an adapter named '" + name + "' is already loaded (unload it first, or choose another name)");
  const auto& mc = model_.config_;
  const int64_t H = mc.hidden_size, I = mc.intermediate_size, L = mc.num_hidden_layers;
  auto a = std::make_unique<Adapter>();
  a->config = c;
  a->layers.resize(L);
  std::vector<Spec> specs;
  if (c.type == "lora" || c.type == "ia3") {
    if (c.targets.empty()) throw RootsException("ERR_INVALID_ARG", "a " + c.type + " adapter needs target modules");
    if (c.type == "lora" && c.r < 1) throw RootsException("ERR_INVALID_ARG", "LoRA rank r must be a positive integer, got " + std::to_string(c.r));
    for (const auto& t : c.targets) {
      ModuleRef m = ParseModule(t, L);
      const int64_t out = m.site == Site::kInter ? I : H, in = m.site == Site::kOut ? I : H;
      auto& lin = a->layers[m.layer][static_cast<int>(m.site)];
      if (c.type == "lora") {
        specs.push_back({t + ".lora_A.weight", {c.r, in}, true, Spec::kKaiming, static_cast<double>(in), {}, &lin.A[m.part]});
        specs.push_back({t + ".lora_B.weight", {out, c.r}, true, Spec::kZeros, 0, {}, &lin.B[m.part]});
      } else {
        const bool ff = std::find(c.feedforward.begin(), c.feedforward.end(), t) != c.feedforward.end();
        if (ff && m.site == Site::kQkv)
          throw RootsException("ERR_INVALID_ARG", "(IA)3 feed-forward module '" + t + "' is a slice of the fused query/key/value projection; only its output can be scaled");
        lin.ia3Input = ff;
        specs.push_back({t + ".ia3_l", ff ? std::vector<int64_t>{1, in} : std::vector<int64_t>{out, 1}, true, Spec::kOnes, 0, {}, &lin.ia3[m.part]});
      }
    }
  } else if (c.type == "prefix") {
    const int64_t P = c.num_virtual_tokens, D = 2 * L * H;
    if (P < 1) throw RootsException("ERR_INVALID_ARG", "prefix tuning needs num_virtual_tokens >= 1");
    if (c.prefix_projection) {
      const int64_t E = c.encoder_hidden_size;
      if (E < 1) throw RootsException("ERR_INVALID_ARG", "prefix projection needs encoder_hidden_size >= 1");
      specs.push_back({"prompt_encoder.embedding.weight", {P, H}, true, Spec::kNormal, 0, {}, &a->prefixEmbedding});
      specs.push_back({"prompt_encoder.transform.0.weight", {E, H}, true, Spec::kKaiming, static_cast<double>(H), {}, &a->prefixW1});
      specs.push_back({"prompt_encoder.transform.0.bias", {E}, false, Spec::kKaiming, static_cast<double>(H), {}, &a->prefixB1});
      specs.push_back({"prompt_encoder.transform.2.weight", {D, E}, true, Spec::kKaiming, static_cast<double>(E), {}, &a->prefixW2});
      specs.push_back({"prompt_encoder.transform.2.bias", {D}, false, Spec::kKaiming, static_cast<double>(E), {}, &a->prefixB2});
    } else {
      specs.push_back({"prompt_encoder.embedding.weight", {P, D}, true, Spec::kNormal, 0, {}, &a->prefixEmbedding});
    }
  } else if (c.type != "bitfit") {
    throw RootsException("ERR_UNSUPPORTED", "unsupported adapter type '" + c.type + "' (expected lora, ia3, prefix or bitfit)");
  }
  // Saved copies: whole leaves (the fused qkv bias stands for query, key and value).
  std::vector<std::string> overrideLeaves;
  for (const auto& n : c.saved) {
    auto it = model_.namedToLeaf_.find(n);
    if (it == model_.namedToLeaf_.end()) throw RootsException("ERR_INVALID_ARG", "the model has no parameter '" + n + "' to train a copy of");
    const auto& leaf = model_.leaves_[it->second.first];
    if (std::find(overrideLeaves.begin(), overrideLeaves.end(), leaf.name) != overrideLeaves.end()) continue;
    overrideLeaves.push_back(leaf.name);
    specs.push_back({leaf.name, leaf.param.sizes().vec(), !NoDecay(leaf.name), Spec::kCopy, 0, leaf.param.detach(), nullptr});
  }
  if (specs.empty()) throw RootsException("ERR_INVALID_ARG", "adapter '" + name + "' has no parameters");

  // Flat buffers per weight-decay group, as the base has (adamw.h).
  a->groups.resize(2);
  a->groups[0].decay = true;
  a->groups[1].decay = false;
  int64_t sizes[2] = {0, 0};
  for (const auto& s : specs) sizes[s.decay ? 0 : 1] += c10::multiply_integers(s.shape);
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(model_.device_);
  for (int g = 0; g < 2; g++) {
    a->groups[g].data = torch::zeros({sizes[g]}, opts);
    a->groups[g].grad = torch::zeros({sizes[g]}, opts);
    a->groups[g].runs = {{0, sizes[g]}};
  }
  torch::NoGradGuard ng;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(c.seed);
  int64_t offs[2] = {0, 0};
  for (auto& s : specs) {
    const int g = s.decay ? 0 : 1;
    const int64_t n = c10::multiply_integers(s.shape);
    torch::Tensor p = a->groups[g].data.narrow(0, offs[g], n).view(s.shape);
    torch::Tensor init = torch::empty(s.shape, torch::kFloat32);
    switch (s.init) {
      case Spec::kKaiming: { const double bound = 1.0 / std::sqrt(s.fanIn); init.uniform_(-bound, bound, gen); break; }
      case Spec::kZeros: init.zero_(); break;
      case Spec::kOnes: init.fill_(1.0); break;
      case Spec::kNormal: init.normal_(0.0, 1.0, gen); break;
      case Spec::kCopy: init.copy_(s.source); break;
    }
    p.copy_(init);
    p.requires_grad_(false);
    p.mutable_grad() = a->groups[g].grad.narrow(0, offs[g], n).view(s.shape);
    offs[g] += n;
    if (s.slot) *s.slot = p;
    if (s.init == Spec::kCopy) {
      a->overrides[s.name] = p;
      // Named as the base names it: the fused qkv leaf as query/key/value.
      auto pos = s.name.find("attention.self.qkv.");
      if (pos != std::string::npos) {
        const std::string pre = s.name.substr(0, pos) + "attention.self.", suf = s.name.substr(pos + 19);
        const char* parts[3] = {"query", "key", "value"};
        for (int k = 0; k < 3; k++) a->named.push_back({pre + parts[k] + "." + suf, p.detach().narrow(0, k * H, H)});
      } else {
        a->named.push_back({s.name, p.detach()});
      }
    } else {
      a->named.push_back({s.name, p.detach()});
    }
    a->leaves.push_back(p);
  }
  all_[name] = std::move(a);
}

void Adapters::remove(const std::string& name) {
  Adapter* a = &get(name);
  if (a == active_) use("", false);
  all_.erase(name);  // a merged adapter's change stays in the base (PEFT's merge_and_unload)
}

std::vector<std::string> Adapters::names() const {
  std::vector<std::string> out;
  for (const auto& [n, a] : all_) out.push_back(n);
  return out;
}

Adapter& Adapters::get(const std::string& name) {
  auto it = all_.find(name);
  if (it == all_.end()) {
    std::string list;
    for (const auto& [n, a] : all_) list += (list.empty() ? "" : ", ") + n;
    throw RootsException("ERR_INVALID_ARG", "no adapter named '" + name + "' (loaded: " + (list.empty() ? "none" : list) + ")");
  }
  return *it->second;
}

void Adapters::use(const std::string& name, bool training) {
  Adapter* a = name.empty() ? nullptr : &get(name);
  for (const auto& [n, o] : all_)
    if (o->merged && o.get() != a && a)
      throw RootsException("ERR_INVALID_ARG", "adapter '" + n + "' is merged into the base weights; unmerge it before using adapter '" + name + "'");
  if (a && a->merged && training)
    throw RootsException("ERR_INVALID_ARG", "adapter '" + name + "' is merged into the base weights; unmerge it before training it");
  active_ = a;
  activeName_ = a ? name : "";
  training_ = a && training;
  // While an adapter trains the base needs no gradient buffer (a copy of every weight): freed, and
  // made again when the base itself trains.
  if (training_) releaseBaseGrads();
  else if (!a && training) ensureBaseGrads();
  for (auto& leaf : model_.leaves_) leaf.param.requires_grad_(training_ ? false : leaf.trainable);
  for (auto& [n, o] : all_)
    for (auto& p : o->leaves) p.requires_grad_(training_ && o.get() == a);
}

// The base's own leaf (Bert::P would give the active adapter's copy).
torch::Tensor Adapters::baseLeaf(const std::string& leaf) const {
  return model_.leaves_[model_.leafIndex_.at(leaf)].param.detach();
}

void Adapters::releaseBaseGrads() {
  for (auto& leaf : model_.leaves_) leaf.param.mutable_grad() = torch::Tensor();
  for (auto& g : model_.groups_) g.grad = torch::Tensor();
}

void Adapters::ensureBaseGrads() {
  if (model_.groups_.empty() || model_.groups_[0].grad.defined()) return;
  for (auto& g : model_.groups_) g.grad = torch::zeros_like(g.data);
  for (auto& leaf : model_.leaves_)
    leaf.param.mutable_grad() = model_.groups_[leaf.group].grad.narrow(0, leaf.offset, leaf.numel).view(leaf.param.sizes());
}

void Adapters::merge(const std::string& name) {
  Adapter& a = get(name);
  if (a.config.type == "prefix")
    throw RootsException("ERR_UNSUPPORTED", "adapter '" + name + "' is a prefix-tuning adapter: its virtual tokens are extra keys and values in every layer, not a change of weights, so it cannot be merged; use it unmerged");
  if (a.merged) throw RootsException("ERR_INVALID_ARG", "adapter '" + name + "' is already merged");
  for (const auto& [n, o] : all_)
    if (o->merged) throw RootsException("ERR_INVALID_ARG", "adapter '" + n + "' is already merged into the base; unmerge it first");
  torch::NoGradGuard ng;
  auto keep = [&](const torch::Tensor& t) { a.backup.push_back({t, t.clone()}); };
  const int64_t H = model_.config_.hidden_size;
  for (size_t i = 0; i < a.layers.size(); i++) {
    for (int s = 0; s < 4; s++) {
      const auto& lin = a.layers[i][s];
      const bool any = lin.A[0].defined() || lin.A[1].defined() || lin.A[2].defined() || lin.ia3[0].defined() ||
                       lin.ia3[1].defined() || lin.ia3[2].defined();
      if (!any) continue;
      const std::string l = "bert.encoder.layer." + std::to_string(i) + "." + kSiteModule[s];
      auto W = baseLeaf(l + ".weight"), b = baseLeaf(l + ".bias");
      keep(W);
      keep(b);
      const int64_t n = s == 0 ? H : W.size(0);
      for (int p = 0; p < 3; p++) {
        if (lin.A[p].defined()) W.narrow(0, p * n, n).add_(at::mm(lin.B[p], lin.A[p]), a.config.scaling);
        if (lin.ia3[p].defined()) {
          if (lin.ia3Input) W.mul_(lin.ia3[p].view({1, -1}));
          else { W.narrow(0, p * n, n).mul_(lin.ia3[p].view({-1, 1})); b.narrow(0, p * n, n).mul_(lin.ia3[p].view(-1)); }
        }
      }
    }
  }
  for (const auto& [leaf, t] : a.overrides) {
    auto base = baseLeaf(leaf);
    keep(base);
    base.copy_(t);
  }
  a.merged = true;
}

void Adapters::unmerge(const std::string& name) {
  Adapter& a = get(name);
  if (!a.merged) throw RootsException("ERR_INVALID_ARG", "adapter '" + name + "' is not merged");
  torch::NoGradGuard ng;
  for (auto it = a.backup.rbegin(); it != a.backup.rend(); ++it) it->first.copy_(it->second);
  a.backup.clear();
  a.merged = false;
}

torch::Tensor Adapters::target(const std::string& path) {
  auto slash = path.find('/');
  if (slash == std::string::npos) throw RootsException("ERR_INVALID_ARG", "expected <adapter>/<parameter>, got '" + path + "'");
  Adapter& a = get(path.substr(0, slash));
  const std::string p = path.substr(slash + 1);
  for (const auto& [n, t] : a.named)
    if (n == p) return t;
  throw RootsException("ERR_INVALID_ARG", "adapter '" + path.substr(0, slash) + "' has no parameter '" + p + "'");
}

torch::Tensor Adapters::grad(const std::string& adapter, const std::string& param) {
  Adapter& a = get(adapter);
  const auto t = target(adapter + "/" + param);
  // The gradient buffer at the same place as the parameter's data.
  for (auto& g : a.groups) {
    const auto* base = static_cast<const float*>(g.data.data_ptr());
    const auto* p = static_cast<const float*>(t.data_ptr());
    if (p >= base && p < base + g.data.numel())
      return g.grad.as_strided(t.sizes(), t.strides(), t.storage_offset() - g.data.storage_offset() + g.grad.storage_offset());
  }
  throw RootsException("ERR_NATIVE", "internal: no gradient for " + param);
}

std::vector<std::pair<std::string, torch::Tensor>> Adapters::fileTensors(const std::string& name) {
  Adapter& a = get(name);
  std::vector<std::pair<std::string, torch::Tensor>> out;
  if (a.config.type == "prefix") {
    // PEFT saves the prefix as the encoder's output (get_prompt_embedding_to_save), [P, 2 L H].
    torch::NoGradGuard ng;
    out.push_back({"prompt_embeddings", prefixPast(a).reshape({a.config.num_virtual_tokens, -1})});
    for (const auto& [n, t] : a.named)
      if (n.rfind("prompt_encoder.", 0) != 0) out.push_back({"base_model." + n, t});
  } else {
    for (const auto& [n, t] : a.named) out.push_back({"base_model.model." + n, t});
  }
  return out;
}

// ---- hooks --------------------------------------------------------------------------------------

torch::Tensor Adapters::prefixPast(const Adapter& a) const {
  const auto& mc = model_.config_;
  torch::Tensor e = a.prefixEmbedding;
  if (a.config.prefix_projection) e = at::linear(at::tanh(at::linear(e, a.prefixW1, a.prefixB1)), a.prefixW2, a.prefixB2);
  const int64_t nh = mc.num_attention_heads;
  return e.view({a.config.num_virtual_tokens, 2 * mc.num_hidden_layers, nh, mc.hidden_size / nh});
}

torch::Tensor Adapters::begin(const torch::Tensor& attentionMask, bool train) {
  train_ = train;
  past_ = torch::Tensor();
  if (!active_ || active_->config.type != "prefix") return attentionMask;
  past_ = prefixPast(*active_).permute({1, 2, 0, 3});  // [2L, nh, P, hd]
  const int64_t B = attentionMask.size(0), P = active_->config.num_virtual_tokens;
  return torch::cat({torch::ones({B, P}, attentionMask.options()), attentionMask}, 1);
}

int64_t Adapters::prefixLength() const {
  return active_ && active_->config.type == "prefix" ? active_->config.num_virtual_tokens : 0;
}

void Adapters::prefixKV(int64_t layer, torch::Tensor& k, torch::Tensor& v) const {
  if (!past_.defined()) return;
  const int64_t B = k.size(0);
  auto pk = past_[2 * layer].unsqueeze(0).expand({B, -1, -1, -1}).to(k.scalar_type());
  auto pv = past_[2 * layer + 1].unsqueeze(0).expand({B, -1, -1, -1}).to(v.scalar_type());
  k = torch::cat({pk, k}, 2);
  v = torch::cat({pv, v}, 2);
}

torch::Tensor Adapters::linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, int64_t layer, Site s) {
  if (!touches(layer, s)) return at::linear(x, w, b);
  const auto& lin = active_->layers[layer][static_cast<int>(s)];
  const int parts = s == Site::kQkv ? 3 : 1;
  bool lora = false;
  for (int p = 0; p < parts; p++) lora = lora || lin.A[p].defined();
  if (lin.ia3Input) return at::linear(x * lin.ia3[0].view(-1).to(x.scalar_type()), w, b);
  auto out = at::linear(x, w, b);
  const double pd = train_ ? active_->config.dropout : 0.0;
  const torch::Tensor xd = lora && pd > 0 ? model_.drop(x, pd) : x;
  auto piece = [&](const torch::Tensor& y, int p) {
    if (lin.A[p].defined()) return y + at::linear(at::linear(xd, lin.A[p]), lin.B[p]) * active_->config.scaling;
    if (lin.ia3[p].defined()) return y * lin.ia3[p].view(-1).to(y.scalar_type());
    return y;
  };
  if (parts == 1) return piece(out, 0);
  auto split = out.chunk(3, -1);
  std::vector<torch::Tensor> cols;
  for (int p = 0; p < 3; p++) cols.push_back(piece(split[p], p));
  return at::cat(cols, -1);
}

bool Adapters::touches(int64_t layer, Site s) const {
  if (!active_ || active_->merged || active_->layers.empty()) return false;
  const auto& lin = active_->layers[layer][static_cast<int>(s)];
  for (int p = 0; p < (s == Site::kQkv ? 3 : 1); p++)
    if (lin.A[p].defined() || lin.ia3[p].defined()) return true;
  return false;
}

const torch::Tensor* Adapters::override(const std::string& leaf) const {
  if (!active_ || active_->merged || active_->overrides.empty()) return nullptr;
  auto it = active_->overrides.find(leaf);
  return it == active_->overrides.end() ? nullptr : &it->second;
}

std::vector<ParamGroup>& Adapters::stepGroups(std::vector<ParamGroup>& base) {
  return training_ ? active_->groups : base;
}

int64_t& Adapters::stepCounter(int64_t& base) {
  return training_ ? active_->step : base;
}

}  // namespace roots
