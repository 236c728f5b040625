// Parameter-efficient tuning on one base model: LoRA, (IA)³, prefix tuning and BitFit adapters,
// several per model by name, one used per call. The base's parameters are shared by all of them and
// never change while an adapter trains (its leaves stop requiring gradients, so autograd computes no
// gradient for them); each adapter has its own flat parameter buffers, gradients, AdamW moments and
// step count, and the model's train step runs over those instead of the base's.
// The math follows Hugging Face PEFT (peft/tuners/lora/layer.py, ia3/layer.py, peft_model.py's
// get_prompt for PREFIX_TUNING); test/peft-parity.test.ts holds it to a torch.nn reference and
// test/peft-interop.test.ts to PEFT itself.
#pragma once
#include "adamw.h"
#include "common.h"

#include <array>
#include <map>
#include <memory>

namespace roots {

class Bert;

// The linear layers of an encoder layer an adapter acts on (qkv: query, key and value fused, [3H, H]).
enum class Site : int { kQkv = 0, kAttnOut = 1, kInter = 2, kOut = 3 };

struct AdapterConfig {
  std::string type;                      // "lora", "ia3", "prefix" or "bitfit"
  int64_t r = 0;                         // lora: rank
  double scaling = 0;                    // lora: lora_alpha / r (or / sqrt(r) with rsLoRA)
  double dropout = 0;                    // lora: dropout on the layer input of the A projection
  std::vector<std::string> targets;      // lora, ia3: module names (bert.encoder.layer.0.attention.self.query, ...)
  std::vector<std::string> feedforward;  // ia3: targets whose input is scaled (the others scale their output)
  std::vector<std::string> saved;        // parameter names the adapter trains its own copy of (modules_to_save, bitfit's biases)
  int64_t num_virtual_tokens = 0;        // prefix
  bool prefix_projection = false;        // prefix: embedding -> Linear -> tanh -> Linear (P-tuning v2's reparameterisation)
  int64_t encoder_hidden_size = 0;       // prefix with projection: the MLP's width
  uint64_t seed = 0;                     // initialisation
};

struct Adapter {
  // One linear layer's additions; index 0..2 = query/key/value on the fused qkv site, 0 elsewhere.
  struct Lin {
    std::array<torch::Tensor, 3> A, B, ia3;
    bool ia3Input = false;  // (IA)³ on a feed-forward module scales its input, not its output
  };
  AdapterConfig config;
  std::vector<ParamGroup> groups;                              // [decay, no_decay], flat
  std::vector<std::pair<std::string, torch::Tensor>> named;    // PEFT's names without the adapter name
  std::vector<torch::Tensor> leaves;                           // the parameters autograd sees (views of groups)
  std::map<std::string, torch::Tensor> overrides;              // base leaf name -> this adapter's copy
  std::vector<std::array<Lin, 4>> layers;                      // [layer][Site]
  torch::Tensor prefixEmbedding, prefixW1, prefixB1, prefixW2, prefixB2;
  int64_t step = 0;
  bool merged = false;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> backup;  // (base tensor, its value before merge)
  int64_t numParameters() const;
};

class Adapters {
 public:
  explicit Adapters(Bert& model) : model_(model) {}

  // Adds an adapter (fresh, PEFT's initialisation). Checks every target against the model first:
  // a failure leaves the model as it was.
  void add(const std::string& name, const AdapterConfig& c);
  void remove(const std::string& name);
  std::vector<std::string> names() const;
  Adapter& get(const std::string& name);

  // The adapter the next forward or train step uses ("" = the base alone). With `training`, only
  // that adapter's parameters require gradients; without, the base's own trainable flags are restored.
  void use(const std::string& name, bool training);
  const std::string& active() const { return activeName_; }
  // Whether the active adapter changes the linear layer at (layer, site): an unmerged LoRA or (IA)3
  // piece there. Where it does not, the engine may fuse that layer's bias with what follows.
  bool touches(int64_t layer, Site s) const;

  // Adds the adapter's change into the base weights (and its saved copies over the base's), keeping a
  // copy of what it overwrote; unmerge restores that copy exactly. Prefix adapters are not mergeable.
  void merge(const std::string& name);
  void unmerge(const std::string& name);

  // A parameter of an adapter by its (PEFT) name, "<adapter>/<param>"; its gradient.
  torch::Tensor target(const std::string& path);
  torch::Tensor grad(const std::string& adapter, const std::string& param);
  // The tensors of PEFT's adapter_model.safetensors, under PEFT's names.
  std::vector<std::pair<std::string, torch::Tensor>> fileTensors(const std::string& name);

  // ---- hooks the engine calls (bert.cc) -------------------------------------------------------
  // Start of a forward: the attention mask over prefix + tokens ([B, P+T]); computes the prefix.
  torch::Tensor begin(const torch::Tensor& attentionMask, bool train);
  // Virtual tokens before the input (HF's BERT numbers the positions after them).
  int64_t prefixLength() const;
  // at::linear(x, w, b) with the active adapter's LoRA / (IA)³ on this layer's site.
  torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, int64_t layer, Site s);
  // Prepends the prefix keys and values of `layer` ([B, nh, T, hd] -> [B, nh, P+T, hd]).
  void prefixKV(int64_t layer, torch::Tensor& k, torch::Tensor& v) const;
  // The active adapter's copy of a base leaf, or nullptr.
  const torch::Tensor* override(const std::string& leaf) const;
  // What the optimizer steps over: the training adapter's groups and step count, else the base's.
  std::vector<ParamGroup>& stepGroups(std::vector<ParamGroup>& base);
  int64_t& stepCounter(int64_t& base);

 private:
  torch::Tensor prefixPast(const Adapter& a) const;  // [P, 2L, nh, hd]
  torch::Tensor baseLeaf(const std::string& leaf) const;
  void releaseBaseGrads();
  void ensureBaseGrads();
  Bert& model_;
  std::map<std::string, std::unique_ptr<Adapter>> all_;
  Adapter* active_ = nullptr;
  std::string activeName_;
  bool training_ = false, train_ = false;
  torch::Tensor past_;  // this forward's prefix keys/values, [2L, B, nh, P, hd]
};

}  // namespace roots

namespace roots {
// model.adapter(op, name, ...) (adapters_wrap.cc): add, remove, use, active, merge, unmerge, list,
// parameters, get, set, grad.
Napi::Value AdapterCall(const Napi::CallbackInfo& info, Bert& model);
}  // namespace roots
