#include "bert.h"
#include "prompt.h"
#include "relation.h"
#include "dropout.h"
#include "kernels.h"
#include "quantize.h"

#include <cmath>
#include <limits>
#include <regex>

namespace roots {

namespace {
uint64_t SplitSeed(uint64_t seed, uint64_t site) {
  uint64_t z = seed * 0x9e3779b97f4a7c15ULL + site + 1;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  return z ^ (z >> 27);
}
bool EndsWith(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}
// A kernel choice from the environment (benchmarks and tests measure one against another).
std::string EnvChoice(const char* name, const std::string& def, std::initializer_list<const char*> allowed) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def;
  std::string list;
  for (const char* a : allowed) {
    if (std::string(v) == a) return v;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  throw RootsException("ERR_CONFIG", std::string(name) + "=" + v + " (expected " + list + ")");
}
}  // namespace

// The config was validated where it entered (lib/models/config.ts) and read with every field
// required (model_wrap.cc); this builds the parameters it describes.
Bert::Bert(const BertConfig& config, torch::Device device) : config_(config), device_(device), optimizer_(device), adapters_(std::make_unique<Adapters>(*this)) {
  const auto& c = config_;
  attention_ = EnvChoice("ROOTS_ATTENTION", "sdpa", {"sdpa", "math"});
  fused_ = FusedKernelsFromEnv();
  // Heads that read only the [CLS] row (the pooler) need only that row from the last layer (encoder()).
  clsOnlyLastLayer_ = EnvChoice("ROOTS_LAST_LAYER", "cls", {"cls", "all"}) == "cls" &&
                      (c.head == "sequence" || (c.head == "relation" && !RelationEntityStart(c)));
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  const std::string e = "bert.embeddings.";
  addParam(e + "word_embeddings.weight", {c.vocab_size, H}, true);
  addParam(e + "position_embeddings.weight", {c.max_position_embeddings, H}, true);
  addParam(e + "token_type_embeddings.weight", {c.type_vocab_size, H}, true);
  addParam(e + "LayerNorm.weight", {H}, false);
  addParam(e + "LayerNorm.bias", {H}, false);
  for (int64_t i = 0; i < c.num_hidden_layers; i++) {
    const std::string l = "bert.encoder.layer." + std::to_string(i) + ".";
    // query, key and value as one [3H, H] projection (checkpoints keep HF's three names: allocate()).
    addParam(l + "attention.self.qkv.weight", {3 * H, H}, true);
    addParam(l + "attention.self.qkv.bias", {3 * H}, false);
    addParam(l + "attention.output.dense.weight", {H, H}, true);
    addParam(l + "attention.output.dense.bias", {H}, false);
    addParam(l + "attention.output.LayerNorm.weight", {H}, false);
    addParam(l + "attention.output.LayerNorm.bias", {H}, false);
    addParam(l + "intermediate.dense.weight", {I, H}, true);
    addParam(l + "intermediate.dense.bias", {I}, false);
    addParam(l + "output.dense.weight", {H, I}, true);
    addParam(l + "output.dense.bias", {H}, false);
    addParam(l + "output.LayerNorm.weight", {H}, false);
    addParam(l + "output.LayerNorm.bias", {H}, false);
  }
  const std::string& h = c.head;
  if (h == "base" || h == "sequence" || h == "intent-slots" || (h == "relation" && !RelationEntityStart(c))) {
    addParam("bert.pooler.dense.weight", {H, H}, true);
    addParam("bert.pooler.dense.bias", {H}, false);
  }
  if (h == "token" || h == "sequence") {
    addParam("classifier.weight", {c.num_labels, H}, true);
    addParam("classifier.bias", {c.num_labels}, false);
  } else if (h == "mlm") {
    addParam("cls.predictions.bias", {c.vocab_size}, false);
    addParam("cls.predictions.transform.dense.weight", {H, H}, true);
    addParam("cls.predictions.transform.dense.bias", {H}, false);
    addParam("cls.predictions.transform.LayerNorm.weight", {H}, false);
    addParam("cls.predictions.transform.LayerNorm.bias", {H}, false);
  } else if (h == "qa") {
    addParam("qa_outputs.weight", {2, H}, true);
    addParam("qa_outputs.bias", {2}, false);
  } else if (h == "intent-slots") {
    addParam("intent_classifier.weight", {c.num_labels, H}, true);
    addParam("intent_classifier.bias", {c.num_labels}, false);
    addParam("slot_classifier.weight", {c.num_slot_labels, H}, true);
    addParam("slot_classifier.bias", {c.num_slot_labels}, false);
  } else if (h == "relation") {  // native/relation.h
    addParam("classifier.weight", {c.num_labels, RelationFeatureSize(c)}, true);
    addParam("classifier.bias", {c.num_labels}, false);
  } else if (h != "base") {
    throw RootsException("ERR_CONFIG", "unknown head '" + h + "' (expected base, token, sequence, mlm, qa, intent-slots or relation)");
  }
  if (c.soft_prompt_tokens > 0) addParam("soft_prompt.embeddings", {c.soft_prompt_tokens, H}, false);  // native/prompt.h
  allocate();
  initWeights(c.seed);
}

void Bert::addParam(const std::string& name, std::vector<int64_t> shape, bool decay) {
  specs_.push_back({name, std::move(shape), decay});
}

void Bert::allocate() {
  groups_.resize(2);
  groups_[0].decay = true;
  groups_[1].decay = false;
  int64_t sizes[2] = {0, 0};
  for (const auto& s : specs_) {
    int64_t n = 1;
    for (auto d : s.shape) n *= d;
    sizes[s.decay ? 0 : 1] += n;
  }
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  for (int g = 0; g < 2; g++) {
    groups_[g].data = torch::zeros({sizes[g]}, opts);
    groups_[g].grad = torch::zeros({sizes[g]}, opts);
  }
  int64_t offs[2] = {0, 0};
  torch::NoGradGuard ng;
  for (const auto& s : specs_) {
    int g = s.decay ? 0 : 1;
    int64_t n = 1;
    for (auto d : s.shape) n *= d;
    Leaf leaf{s.name, groups_[g].data.narrow(0, offs[g], n).view(s.shape), g, offs[g], n, true};
    leaf.param.requires_grad_(true);
    leaf.param.mutable_grad() = groups_[g].grad.narrow(0, offs[g], n).view(s.shape);
    offs[g] += n;
    leafIndex_[s.name] = leaves_.size();
    leaves_.push_back(std::move(leaf));
  }
  // HF-named views: the fused qkv projection appears as query/key/value.
  const int64_t H = config_.hidden_size;
  for (size_t li = 0; li < leaves_.size(); li++) {
    const auto& leaf = leaves_[li];
    auto pos = leaf.name.find("attention.self.qkv.");
    if (pos != std::string::npos) {
      const std::string prefix = leaf.name.substr(0, pos) + "attention.self.";
      const std::string suffix = leaf.name.substr(pos + std::string("attention.self.qkv.").size());
      const char* parts[3] = {"query", "key", "value"};
      for (int k = 0; k < 3; k++) {
        std::string n = prefix + parts[k] + "." + suffix;
        namedToLeaf_[n] = {li, {k * H, H}};
        namedIndex_[n] = named_.size();
        named_.push_back({n, leaf.param.detach().narrow(0, k * H, H)});
      }
    } else {
      namedToLeaf_[leaf.name] = {li, {0, leaf.param.size(0)}};
      namedIndex_[leaf.name] = named_.size();
      named_.push_back({leaf.name, leaf.param.detach()});
    }
  }
  for (int g = 0; g < 2; g++) groups_[g].runs = {{0, sizes[g]}};
  specs_.clear();
}

std::optional<torch::Tensor> Bert::find(const std::string& name) const {
  auto it = namedIndex_.find(name);
  if (it == namedIndex_.end()) return std::nullopt;
  return named_[it->second].second;
}

torch::Tensor Bert::gradOf(const std::string& name) const {
  auto it = namedToLeaf_.find(name);
  if (it == namedToLeaf_.end()) throw RootsException("ERR_INVALID_ARG", "no parameter named " + name);
  const auto& leaf = leaves_[it->second.first];
  if (!leaf.param.grad().defined()) throw RootsException("ERR_INVALID_ARG", "no gradient for " + name + ": the base has none while an adapter trains (adapters.h)");
  return leaf.param.grad().narrow(0, it->second.second.first, it->second.second.second);
}

int64_t Bert::numParameters() const {
  int64_t n = 0;
  for (const auto& g : groups_) n += g.data.numel();
  return n;
}

int64_t Bert::numBytes() const {
  int64_t n = 0;
  for (const auto& g : groups_)
    for (const auto* t : {&g.data, &g.grad, &g.exp_avg, &g.exp_avg_sq})
      if (t->defined()) n += t->numel() * 4;
  return n;
}

torch::Tensor Bert::P(const std::string& name) const {
  auto it = leafIndex_.find(name);
  if (it == leafIndex_.end()) throw RootsException("ERR_NATIVE", "internal: no parameter " + name);
  if (const torch::Tensor* own = adapters_->override(name)) return *own;  // an adapter's copy (BitFit, modules_to_save)
  return leaves_[it->second].param;
}

void Bert::initWeights(uint64_t seed) {
  std::vector<std::string> all;
  for (const auto& [n, t] : named_) all.push_back(n);
  initWeights(seed, all);
}

void Bert::initWeights(uint64_t seed, const std::vector<std::string>& names) {
  torch::NoGradGuard ng;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double std_ = config_.initializer_range;
  for (const auto& name : names) {
    auto t = find(name);
    if (!t) continue;
    torch::Tensor cpu = torch::empty(t->sizes(), torch::kFloat32);
    if (name.find("LayerNorm.weight") != std::string::npos) cpu.fill_(1.0);
    else if (EndsWith(name, "bias")) cpu.zero_();
    else {
      cpu.normal_(0.0, std_, gen);
      if (name == "bert.embeddings.word_embeddings.weight" && config_.pad_token_id >= 0 &&
          config_.pad_token_id < config_.vocab_size)
        cpu[config_.pad_token_id].zero_();
    }
    t->copy_(cpu);
  }
}

torch::Tensor Bert::act(const torch::Tensor& x) const {
  const auto& a = config_.hidden_act;
  if (a == "gelu") return at::gelu(x);
  if (a == "gelu_new" || a == "gelu_pytorch_tanh" || a == "gelu_fast") return at::gelu(x, "tanh");
  if (a == "relu") return at::relu(x);
  if (a == "silu" || a == "swish") return at::silu(x);
  if (a == "tanh") return at::tanh(x);
  throw RootsException("ERR_CONFIG", "unsupported hidden_act '" + a + "' (expected gelu, gelu_new, relu, silu or tanh)");
}

torch::Tensor Bert::drop(const torch::Tensor& x, double p) {
  // Each dropout site of a step gets its own stream: (step seed, site number).
  return FastDropout(x, p, SplitSeed(dropoutSeed_, dropoutSite_++));
}

torch::Tensor Bert::encoder(const BatchTensors& b, bool train, bool clsOnly) {
  const auto& c = config_;
  const int64_t B = b.batch, T = b.seq, H = c.hidden_size, nh = c.num_attention_heads, hd = H / nh;
  const double pd = train ? c.hidden_dropout_prob : 0.0;
  const double pa = train ? c.attention_probs_dropout_prob : 0.0;
  // Adapters: the mask over prefix + tokens, and HF's position numbering after the prefix.
  const torch::Tensor keyMask = adapters_->begin(b.attention_mask, train);
  const int64_t P0 = adapters_->prefixLength();
  auto positions = torch::arange(P0, P0 + T, torch::TensorOptions().dtype(torch::kInt64).device(device_)).unsqueeze(0);

  // Embeddings: (word + token type) + position, LayerNorm, dropout (HF's order of additions).
  auto x = at::embedding(P("bert.embeddings.word_embeddings.weight"), b.input_ids, c.pad_token_id);
  if (b.soft_prompt_slots.defined()) x = SoftPromptEmbeddings(x, P("soft_prompt.embeddings"), b.soft_prompt_slots);
  x = x + at::embedding(P("bert.embeddings.token_type_embeddings.weight"), b.token_type_ids);
  x = x + at::embedding(P("bert.embeddings.position_embeddings.weight"), positions);
  x = at::layer_norm(x, {H}, P("bert.embeddings.LayerNorm.weight"), P("bert.embeddings.LayerNorm.bias"), c.layer_norm_eps);
  if (pd > 0) x = drop(x, pd);

  // The additive mask HF builds: 0 for real tokens, the lowest float for padding (made once, in
  // the dtype the attention runs in).
  torch::Tensor mask, sdpaMask;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));

  for (int64_t i = 0; i < c.num_hidden_layers; i++) {
    const std::string l = "bert.encoder.layer." + std::to_string(i) + ".";
    // clsOnly: the head reads the [CLS] row alone, so the last layer's queries, attention output and
    // feed-forward run for that row only (its keys and values still for every token): the same
    // [CLS] state, about three quarters of the layer's products skipped.
    const bool clsRow = clsOnly && i == c.num_hidden_layers - 1;
    const int64_t Tq = clsRow ? 1 : T;
    // The four products of a layer: int8 when quantized (quantize.h; forward() allows it in eval only).
    auto linear = [&](const torch::Tensor& in, const std::string& n, Site s) {
      return quantized_ ? quantized_->linear(in, i, s) : adapters_->linear(in, P(l + n + ".weight"), P(l + n + ".bias"), i, s);
    };
    auto qkv = linear(x, "attention.self.qkv", Site::kQkv);
    // unbind, not three selects: its backward stacks the three gradients in one copy, where
    // each select's backward would zero-fill and copy a tensor the size of all three.
    auto parts = qkv.view({B, T, 3, nh, hd}).unbind(2);
    auto q = parts[0].permute({0, 2, 1, 3}), k = parts[1].permute({0, 2, 1, 3}), v = parts[2].permute({0, 2, 1, 3});
    if (clsRow) q = q.narrow(2, 0, 1);
    adapters_->prefixKV(i, k, v);
    torch::Tensor ctx;
    bool fusedAttention = false;
#if ROOTS_TORCH_AT_LEAST(2, 1)
    // Fused attention (memory-efficient / cuDNN kernels on CUDA) with the padding mask. -1e30, not
    // the lowest float: that rounds to -inf in bf16 (the softmax is the same, exp underflows to 0).
    // A batch without padding (counted on the host) needs no mask, which lets CUDA pick the flash kernel.
    fusedAttention = attention_ == "sdpa";
    if (fusedAttention && b.tokens == B * T) {
      ctx = at::scaled_dot_product_attention(q, k, v, {}, pa, false);
    } else if (fusedAttention) {
      if (!sdpaMask.defined()) sdpaMask = (1.0 - keyMask.view({B, 1, 1, -1}).to(q.scalar_type())) * -1e30;
      ctx = at::scaled_dot_product_attention(q, k, v, sdpaMask, pa, false);
    }
#endif
    if (!fusedAttention) {
      if (!mask.defined()) mask = (1.0 - keyMask.view({B, 1, 1, -1}).to(torch::kFloat32)) * std::numeric_limits<float>::lowest();
      torch::Tensor probs;
      if (fused_) {
        // One pass for scale, mask, softmax and dropout (the same dropout stream as drop()).
        probs = ScaledMaskedSoftmaxDropout(at::matmul(q, k.transpose(-1, -2)), scale, mask.view({B, -1}), pa,
                                           pa > 0 ? SplitSeed(dropoutSeed_, dropoutSite_++) : 0);
      } else {
        auto scores = at::matmul(q, k.transpose(-1, -2)) * scale;
        probs = at::softmax(scores + mask, -1);
        if (pa > 0) probs = drop(probs, pa);
      }
      ctx = at::matmul(probs, v);
    }
    ctx = ctx.permute({0, 2, 1, 3}).reshape({B, Tq, H});
    auto a = linear(ctx, "attention.output.dense", Site::kAttnOut);
    // LayerNorm(dropout(a) + x): one pass forward and one backward when fused.
    auto addNorm = [&](torch::Tensor y, const torch::Tensor& res, const std::string& ln) {
      if (fused_)
        return DropoutAddLayerNorm(y, res, P(ln + ".weight"), P(ln + ".bias"), c.layer_norm_eps, pd,
                                   pd > 0 ? SplitSeed(dropoutSeed_, dropoutSite_++) : 0);
      if (pd > 0) y = drop(y, pd);
      return at::layer_norm(y + res, {H}, P(ln + ".weight"), P(ln + ".bias"), c.layer_norm_eps);
    };
    auto x1 = addNorm(a, clsRow ? x.narrow(1, 0, 1).contiguous() : x, l + "attention.output.LayerNorm");
    // GELU fused with the intermediate bias (kernels.h) where no adapter piece or int8 product acts on the
    // layer (P gives a BitFit adapter's own bias), so an adapter that leaves it alone gives the base's bits.
    auto h = fused_ && c.hidden_act == "gelu" && device_.is_cpu() && !quantized_ && !adapters_->touches(i, Site::kInter)
                 ? BiasGelu(at::linear(x1, P(l + "intermediate.dense.weight")), P(l + "intermediate.dense.bias"))
                 : act(linear(x1, "intermediate.dense", Site::kInter));
    auto o = linear(h, "output.dense", Site::kOut);
    x = addNorm(o, x1, l + "output.LayerNorm");
  }
  (void)scale;
  return x;
}

torch::Tensor Bert::classWeights() const {
  if (config_.class_weights.empty()) return {};
  // Made once: a host-to-device copy per step would stall a CUDA stream.
  if (!classWeights_.defined())
    classWeights_ = torch::tensor(config_.class_weights, torch::TensorOptions().dtype(torch::kFloat64)).to(device_, torch::kFloat32);
  return classWeights_;
}

ForwardOut Bert::forward(const BatchTensors& b, bool train) {
  const auto& c = config_;
  const int64_t B = b.batch, T = b.seq, H = c.hidden_size;
  const double pc = train ? (c.classifier_dropout >= 0 ? c.classifier_dropout : c.hidden_dropout_prob) : 0.0;
  if (quantized_ && train)
    throw RootsException("ERR_UNSUPPORTED", "this model is quantized (int8) for inference and cannot train; load its fp32 folder (or call setPrecision('fp32')) to train");
  if (quantized_ && !adapters_->active().empty())
    throw RootsException("ERR_UNSUPPORTED", "int8 inference runs the base model alone; adapter '" + adapters_->active() + "' is set (merge it into the fp32 model and quantize the result)");
  // int8 keeps the whole last layer: its activation scale is per call, so the [CLS] row's answer would change.
  auto x = encoder(b, train, clsOnlyLastLayer_ && !quantized_);
  ForwardOut out;
  auto pooled = [&]() {
    return at::tanh(at::linear(x.select(1, 0), P("bert.pooler.dense.weight"), P("bert.pooler.dense.bias")));
  };
  auto dropc = [&](torch::Tensor t) { return pc > 0 ? drop(t, pc) : t; };
  const std::string& h = c.head;
  const torch::Tensor cw = classWeights();
  if (h == "base") {
    out.logits = x;
    out.logits2 = pooled();
  } else if (h == "token") {
    out.logits = at::linear(dropc(x), P("classifier.weight"), P("classifier.bias"));
    if (b.labels.defined())
      out.loss = at::cross_entropy_loss(out.logits.reshape({B * T, c.num_labels}).to(torch::kFloat32),
                                        b.labels.reshape({B * T}), cw, at::Reduction::Mean, -100);
  } else if (h == "sequence") {
    out.logits = at::linear(dropc(pooled()), P("classifier.weight"), P("classifier.bias"));
    if (b.labels.defined()) {
      auto lg = out.logits.to(torch::kFloat32);
      if (c.problem_type == "regression")
        out.loss = at::mse_loss(c.num_labels == 1 ? lg.squeeze(-1) : lg, b.labels.to(torch::kFloat32));
      else if (c.problem_type == "multi_label_classification")
        out.loss = at::binary_cross_entropy_with_logits(lg, b.labels.to(torch::kFloat32), {}, cw);  // cw = pos_weight
      else
        out.loss = at::cross_entropy_loss(lg, b.labels, cw, at::Reduction::Mean, -100);
    }
  } else if (h == "mlm") {
    auto transform = [&](const torch::Tensor& t) {
      auto y = act(at::linear(t, P("cls.predictions.transform.dense.weight"), P("cls.predictions.transform.dense.bias")));
      // LayerNorm in fp32: LibTorch 1.13's CPU autocast does not cast it, and under bf16 autocast y
      // is bf16 here (the encoder's LayerNorms get fp32 through their residual sums).
      y = at::layer_norm(y.to(torch::kFloat32), {H}, P("cls.predictions.transform.LayerNorm.weight"),
                         P("cls.predictions.transform.LayerNorm.bias"), c.layer_norm_eps);
      // The decoder is tied to the word embeddings, with its own bias.
      return at::linear(y, P("bert.embeddings.word_embeddings.weight"), P("cls.predictions.bias"));
    };
    if (b.mask_positions.defined()) {
      // Prompt classification (native/prompt.h): vocabulary scores at each row's mask only, label
      // scores [B, C] from the verbalizer, cross-entropy over the labels.
      out.logits = PromptScores(transform(PromptMaskStates(x, b.mask_positions)), b.verbalizer_ids, b.verbalizer_weights);
      if (b.labels.defined()) out.loss = at::cross_entropy_loss(out.logits, b.labels, {}, at::Reduction::Mean, -100);
    } else if (b.labels.defined()) {
      // With labels (training and evaluation): the vocabulary projection only where there is a
      // target, in row-major order of the labelled positions: logits [N, V] (HF projects every
      // position and ignores most of them; the loss is the same, and eval needs no B x T x V).
      auto flat = b.labels.reshape({B * T});
      auto idx = flat.ne(-100).nonzero().squeeze(-1);
      auto logits = transform(x.reshape({B * T, H}).index_select(0, idx));
      out.loss = at::cross_entropy_loss(logits.to(torch::kFloat32), flat.index_select(0, idx), {}, at::Reduction::Mean, -100);
      out.logits = logits;
    } else {
      out.logits = transform(x);
    }
  } else if (h == "qa") {
    auto lg = at::linear(x, P("qa_outputs.weight"), P("qa_outputs.bias"));
    out.logits = lg.select(-1, 0).contiguous();
    out.logits2 = lg.select(-1, 1).contiguous();
    if (b.start_positions.defined() && b.end_positions.defined()) {
      // HF: positions outside the sequence are clamped to T and ignored.
      auto sp = b.start_positions.clamp(0, T), ep = b.end_positions.clamp(0, T);
      auto ls = at::cross_entropy_loss(out.logits.to(torch::kFloat32), sp, {}, at::Reduction::Mean, T);
      auto le = at::cross_entropy_loss(out.logits2.to(torch::kFloat32), ep, {}, at::Reduction::Mean, T);
      out.loss = (ls + le) / 2;
    }
  } else if (h == "relation") {  // native/relation.h
    auto features = RelationEntityStart(c) ? EntityStartStates(x, b.entity_positions) : pooled();
    out.logits = at::linear(dropc(features), P("classifier.weight"), P("classifier.bias"));
    if (b.labels.defined()) out.loss = at::cross_entropy_loss(out.logits.to(torch::kFloat32), b.labels, cw, at::Reduction::Mean, -100);
  } else if (h == "intent-slots") {
    out.logits = at::linear(dropc(pooled()), P("intent_classifier.weight"), P("intent_classifier.bias"));
    out.logits2 = at::linear(dropc(x), P("slot_classifier.weight"), P("slot_classifier.bias"));
    if (b.labels.defined()) {
      out.loss = at::cross_entropy_loss(out.logits.to(torch::kFloat32), b.labels, cw, at::Reduction::Mean, -100);
      if (b.labels2.defined())
        out.loss = out.loss + c.slot_loss_weight * at::cross_entropy_loss(
                                   out.logits2.reshape({B * T, c.num_slot_labels}).to(torch::kFloat32),
                                   b.labels2.reshape({B * T}), {}, at::Reduction::Mean, -100);
    }
  }
  return out;
}

void Bert::setFrozen(const std::vector<std::string>& patterns) {
  std::vector<std::regex> res;
  for (const auto& p : patterns) {
    try {
      res.emplace_back(p);
    } catch (const std::regex_error& e) {
      throw RootsException("ERR_INVALID_ARG", "invalid freeze pattern '" + p + "': " + e.what());
    }
  }
  for (auto& leaf : leaves_) {
    bool frozen = false;
    for (const auto& re : res) {
      // Match on HF names; the fused qkv leaf matches if query/key/value would.
      std::string probe = leaf.name;
      auto pos = probe.find("attention.self.qkv.");
      if (pos != std::string::npos) probe.replace(pos, std::string("attention.self.qkv.").size(), "attention.self.query.");
      if (std::regex_search(probe, re)) { frozen = true; break; }
    }
    leaf.trainable = !frozen;
    leaf.param.requires_grad_(!frozen);
  }
  // The trainable ranges of each flat buffer, merged where consecutive.
  for (int g = 0; g < 2; g++) groups_[g].runs.clear();
  for (const auto& leaf : leaves_) {
    if (!leaf.trainable) continue;
    auto& runs = groups_[leaf.group].runs;
    if (!runs.empty() && runs.back().offset + runs.back().numel == leaf.offset) runs.back().numel += leaf.numel;
    else runs.push_back({leaf.offset, leaf.numel});
  }
}

std::vector<std::string> Bert::frozenNames() const {
  std::vector<std::string> out;
  for (const auto& [name, where] : namedToLeaf_)
    if (!leaves_[where.first].trainable) out.push_back(name);
  return out;
}

void Bert::zeroGrad() {
  for (auto& g : groups()) g.grad.zero_();
}

void Bert::ensureOptimizerState() {
  for (auto& g : groups()) {
    if (!g.exp_avg.defined()) g.exp_avg = torch::zeros_like(g.data);
    if (!g.exp_avg_sq.defined()) g.exp_avg_sq = torch::zeros_like(g.data);
  }
}

AutocastGuard::AutocastGuard(bool enabled, torch::DeviceType type) : enabled_(enabled), type_(type) {
  if (!enabled_) return;
#if ROOTS_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(type_, true);
  at::autocast::set_autocast_dtype(type_, at::kBFloat16);
#else
  if (type_ == torch::kCUDA) { at::autocast::set_enabled(true); at::autocast::set_autocast_gpu_dtype(at::kBFloat16); }
  else { at::autocast::set_cpu_enabled(true); at::autocast::set_autocast_cpu_dtype(at::kBFloat16); }
#endif
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
#if ROOTS_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(type_, false);
#else
  if (type_ == torch::kCUDA) at::autocast::set_enabled(false); else at::autocast::set_cpu_enabled(false);
#endif
  at::autocast::clear_cache();
}

torch::Tensor Bert::backwardMicro(const BatchTensors& mb, double n) {
  torch::Tensor loss;
  {
    AutocastGuard ac(precision_ == "bf16", device_.type());
    ForwardOut out = forward(mb, true);
    loss = out.loss;
    if (loss.defined() && mb.teacher_logits.defined()) loss = loss + DistillLoss(out.logits, mb);  // LwF
  }
  if (!loss.defined()) throw RootsException("ERR_INVALID_ARG", "trainStep needs labels for the " + config_.head + " head");
  (loss / n).backward();
  return loss.detach();
}

StepResult Bert::trainStep(const std::vector<BatchTensors>& micro, const AdamWOptions& opt, double maxGradNorm,
                           uint64_t rngSeed) {
  if (micro.empty()) throw RootsException("ERR_INVALID_ARG", "trainStep needs at least one batch");
  torch::AutoGradMode grad(true);
  // Dropout masks are a function of (seed, step): a resumed run draws the same masks.
  torch::manual_seed(rngSeed);
  dropoutSeed_ = rngSeed;
  dropoutSite_ = 0;
  zeroGrad();
  StepResult r;
  const double n = static_cast<double>(micro.size());
  torch::Tensor total;
  for (const auto& mb : micro) {
    if (gradSync && &mb == &micro.back()) gradSync->beforeLastBackward(*this, groups());  // distributed.h
    auto part = backwardMicro(mb, n).to(torch::kFloat32) / n;
    total = total.defined() ? total + part : part;
    r.tokens += mb.tokens >= 0 ? mb.tokens : mb.attention_mask.sum().item<int64_t>();
  }
  torch::NoGradGuard ng;
  // The base's groups and step count, or a training adapter's (adapters.h).
  std::vector<ParamGroup>& groups = this->groups();
  int64_t& step = adapters_->stepCounter(step_);
  // Data parallelism: the gradients (and loss) averaged over the ranks before penalties, clipping, AdamW.
  if (gradSync) gradSync->finish(groups, total, r.tokens);
  // EWC / L2-SP: their gradients go straight into the base's gradient buffers, before clipping.
  if (&groups == &groups_) {
    auto penalty = ApplyContinualPenalty(continual, groups_);
    if (penalty.defined()) total = total + penalty.to(total.device(), torch::kFloat32);
  }
  torch::Tensor sq;
  for (auto& g : groups) {
    auto d = at::dot(g.grad, g.grad);  // one pass, no temporary
    sq = sq.defined() ? sq + d : d;
  }
  auto norm = sq.sqrt();
  ensureOptimizerState();
  const int64_t next = step + 1;
  if (optimizer_.updatesOnDevice()) optimizer_.updateOnDevice(groups, next, opt, total, norm, maxGradNorm);
  // The step's one device-to-host copy.
  auto host = torch::stack({total, norm.to(torch::kFloat32)}).to(torch::kCPU, torch::kFloat64);
  r.loss = host[0].item<double>();
  r.grad_norm = host[1].item<double>();
  if (!std::isfinite(r.loss) || !std::isfinite(r.grad_norm)) {
    r.skipped = true;  // the fused kernel skipped the update itself; the others never ran
    zeroGrad();
    return r;
  }
  step = next;
  if (!optimizer_.updatesOnDevice()) optimizer_.update(groups, step, opt, r.grad_norm, maxGradNorm);
  return r;
}

}  // namespace roots
