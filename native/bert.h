// The BERT engine: Hugging Face's BertModel module tree and parameter names, the task heads,
// the losses, and AdamW over flat parameter buffers. Pure LibTorch (no N-API here).
#pragma once
#include "adamw.h"
#include "adapters.h"
#include "common.h"
#include "continual.h"
#include "distributed.h"

#include <map>
#include <memory>
#include <optional>

namespace roots {

class QuantizedLinears;  // quantize.h

// The config.json fields (Hugging Face's BertConfig) that change the computation, plus the head
// and the seed, which config.json does not hold. model_wrap.cc reads each under its config.json
// name and requires it: the defaults live in one place, lib/models/config.ts.
struct BertConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  std::string hidden_act;
  double hidden_dropout_prob = 0;
  double attention_probs_dropout_prob = 0;
  double classifier_dropout = -1;  // < 0: use hidden_dropout_prob (config.json's null)
  int64_t max_position_embeddings = 0;
  int64_t type_vocab_size = 0;
  double layer_norm_eps = 0;
  double initializer_range = 0;
  int64_t pad_token_id = 0;
  // Head: "base" (BertModel), "token" (BertForTokenClassification), "sequence"
  // (BertForSequenceClassification), "mlm" (BertForMaskedLM), "qa" (BertForQuestionAnswering),
  // "intent-slots" (a sequence head for the intent and a token head for the slots), "relation"
  // (relation classification over entity markers, native/relation.h).
  std::string head;
  int64_t num_labels = 0;              // id2label's size (or num_labels); heads with labels only
  int64_t num_slot_labels = 0;         // intent-slots: slot_id2label's size
  double slot_loss_weight = 0;         // intent-slots: loss = intent + slot_loss_weight * slots
  std::string problem_type = "single_label_classification";  // config.json's null; or multi_label_classification, regression
  std::vector<double> class_weights;  // per-class loss weights (imbalanced data); empty: none
  std::string relation_pooling;        // relation head: "entity-start" or "cls" (native/relation.h)
  int64_t soft_prompt_tokens = 0;      // P-tuning: trainable prompt embeddings [P, H] (native/prompt.h); 0: none
  uint64_t seed = 0;                   // fresh initialisation
};

struct Leaf {
  std::string name;       // our name (HF's, except the fused qkv projections)
  torch::Tensor param;    // a view of group.data, requires_grad
  int group;
  int64_t offset, numel;
  bool trainable = true;
};

struct ForwardOut {
  torch::Tensor logits;    // token/sequence/mlm: the logits; qa: start logits; intent-slots: intent
  torch::Tensor logits2;   // qa: end logits; intent-slots: slot logits
  torch::Tensor loss;      // defined when labels were given
};

struct BatchTensors {
  int64_t batch = 0, seq = 0;
  torch::Tensor input_ids, attention_mask, token_type_ids;  // int64 [B, T]
  torch::Tensor labels;        // int64: [B, T] (token/mlm) or [B] (sequence); float [B, L] multi-label/regression
  torch::Tensor labels2;       // intent-slots: slot labels [B, T]
  torch::Tensor start_positions, end_positions;  // qa: int64 [B]
  torch::Tensor entity_positions;  // relation: the [E1] and [E2] of each row, int64 [B, 2]
  // Prompt classification on the mlm head (native/prompt.h): the [MASK] of each row [B], the
  // verbalizer's token ids [C, K] and weights [C, K]; labels then holds class ids [B].
  torch::Tensor mask_positions, verbalizer_ids, verbalizer_weights;
  torch::Tensor soft_prompt_slots;  // [B, T]: -1, or the soft prompt token replacing that word embedding
  torch::Tensor teacher_logits;     // LwF (continual.h): the previous model's logits, [B, T, L_old] or [B, L_old]
  double distill_temperature = 1, distill_weight = 0;
  int64_t tokens = -1;         // real tokens (attention mask sum), counted on the host; -1: unknown
};

struct StepResult { double loss = 0; double grad_norm = 0; bool skipped = false; int64_t tokens = 0; };

// bf16 autocast for the matrix products while alive (autocast state is thread-local: create it on
// the thread that runs the computation).
class AutocastGuard {
 public:
  AutocastGuard(bool enabled, torch::DeviceType type);
  ~AutocastGuard();
 private:
  bool enabled_;
  torch::DeviceType type_;
};

class Bert {
 public:
  Bert(const BertConfig& config, torch::Device device);

  const BertConfig& config() const { return config_; }
  torch::Device device() const { return device_; }
  // HF-named views of every parameter (checkpoint order); the tied MLM decoder is not listed.
  const std::vector<std::pair<std::string, torch::Tensor>>& named() const { return named_; }
  std::optional<torch::Tensor> find(const std::string& hfName) const;
  torch::Tensor gradOf(const std::string& hfName) const;  // a view of the gradient buffer
  int64_t numParameters() const;
  int64_t numBytes() const;

  // Fresh initialisation as HF's _init_weights (normal(0, initializer_range), zero biases,
  // LayerNorm 1/0, the padding row of the word embeddings zeroed).
  void initWeights(uint64_t seed);
  // Re-initialise only the named parameters (heads missing from a checkpoint).
  void initWeights(uint64_t seed, const std::vector<std::string>& names);

  ForwardOut forward(const BatchTensors& batch, bool train);

  // Freezing: every parameter whose HF name matches one of the regexes stops training.
  void setFrozen(const std::vector<std::string>& patterns);
  std::vector<std::string> frozenNames() const;

  // Precision of the matrix products: "fp32" or "bf16" (autocast; fp32 master weights and state).
  void setPrecision(const std::string& p) { precision_ = p; }
  const std::string& precision() const { return precision_; }

  // Kernel choices, for measuring one against another (ROOTS_ATTENTION, ROOTS_ADAMW, read at
  // construction): attention "sdpa" (fused scaled-dot-product attention, LibTorch >= 2.1) or "math";
  // AdamW's kernels in adamw.h.
  const std::string& attention() const { return attention_; }
  const char* adamwKernel() const { return optimizer_.kernel(); }

  // One optimizer step: zero the gradients, forward and backward over each micro-batch (the loss
  // of each divided by their number), clip to maxGradNorm (0: off), AdamW. A non-finite loss or
  // gradient norm skips the update. Nothing waits for the device until the one copy of (loss, grad
  // norm) to the host at the end; with the fused CUDA kernel the update is queued before it.
  void zeroGrad();
  StepResult trainStep(const std::vector<BatchTensors>& micro, const AdamWOptions& opt, double maxGradNorm,
                       uint64_t rngSeed);
  // The step count and groups the optimizer steps: the training adapter's (adapters.h), else the base's.
  int64_t optimizerStep() const { return adapters_->stepCounter(const_cast<int64_t&>(step_)); }
  void setOptimizerStep(int64_t s) { adapters_->stepCounter(step_) = s; }
  std::vector<ParamGroup>& groups() { return adapters_->stepGroups(groups_); }
  // LoRA, (IA)3, prefix and BitFit adapters on this base, one used per call.
  Adapters& adapters() { return *adapters_; }
  // int8 inference (quantize.h): the encoder's linear layers run int8 while set; null: fp32.
  void setQuantized(std::shared_ptr<QuantizedLinears> q) { quantized_ = std::move(q); }
  const QuantizedLinears* quantized() const { return quantized_.get(); }
  // EWC / L2-SP penalties and the Fisher (continual.h); applied to the base's groups only.
  ContinualState continual;
  // Data parallelism (distributed.h): the gradient all-reduce while the model trains in a process
  // group; null: one process. leaves(): the parameters as allocated, for its buckets.
  std::shared_ptr<GradSync> gradSync;
  const std::vector<Leaf>& leaves() const { return leaves_; }
  void ensureOptimizerState();

 private:
  friend class Adapters;
  void addParam(const std::string& name, std::vector<int64_t> shape, bool decay);
  void allocate();
  torch::Tensor P(const std::string& name) const;
  // Returns [B, T, H]; with clsOnly the last layer runs for the [CLS] row alone: [B, 1, H].
  torch::Tensor encoder(const BatchTensors& b, bool train, bool clsOnly);
  torch::Tensor act(const torch::Tensor& x) const;
  torch::Tensor drop(const torch::Tensor& x, double p);
  torch::Tensor classWeights() const;  // undefined when none
  // Forward (autocast as set), loss / n backward into the gradient buffers; returns the detached loss.
  torch::Tensor backwardMicro(const BatchTensors& mb, double n);

  BertConfig config_;
  torch::Device device_;
  std::string precision_ = "fp32";
  std::string attention_ = "sdpa";
  bool fused_ = true;  // ROOTS_FUSED: the fused element-wise kernels (kernels.h)
  bool clsOnlyLastLayer_ = true;  // ROOTS_LAST_LAYER=cls|all: encoder()'s clsOnly for heads that read [CLS] alone
  AdamW optimizer_;
  mutable torch::Tensor classWeights_;  // on device_, made once
  std::vector<ParamGroup> groups_;
  std::vector<Leaf> leaves_;
  std::map<std::string, size_t> leafIndex_;
  std::vector<std::pair<std::string, torch::Tensor>> named_;
  std::map<std::string, size_t> namedIndex_;
  std::map<std::string, std::pair<size_t, std::pair<int64_t, int64_t>>> namedToLeaf_;  // name -> (leaf, [row0, rows))
  int64_t step_ = 0;
  std::unique_ptr<Adapters> adapters_;
  std::shared_ptr<QuantizedLinears> quantized_;
  uint64_t dropoutSeed_ = 0, dropoutSite_ = 0;
  // Pending parameter shapes before allocate().
  struct Spec { std::string name; std::vector<int64_t> shape; bool decay; };
  std::vector<Spec> specs_;
};

}  // namespace roots
