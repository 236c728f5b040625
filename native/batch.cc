#include "batch.h"
#include "prompt.h"
#include "relation.h"

namespace roots {

namespace {

const char* kBatchShape =
    "a Batch is an object { batchSize, seqLen, inputIds, attentionMask, tokenTypeIds } whose three arrays are "
    "Int32Arrays of batchSize * seqLen values (lib/batch.ts; collate() builds one), plus the head's targets for trainStep";

// The targets a training step of this head needs, as the Batch names them.
std::string TargetFields(const BertConfig& c) {
  if (c.head == "qa") return "startPositions and endPositions";
  if (c.head == "sequence" && c.problem_type != "single_label_classification") return "labelsFloat";
  if (c.head == "intent-slots") return "labels (and slotLabels)";
  if (c.head == "relation") return "labels (and entityPositions)";
  return "labels";
}

}  // namespace

BatchTensors ReadBatch(Napi::Env env, const Napi::Value& value, const std::string& where, const BertConfig& c,
                       bool needTargets) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray())
    throw MakeError(env, "ERR_INVALID_ARG",
                    "Expected a Batch for " + where + " but received " + DescribeValue(value) + ": " + kBatchShape);
  Napi::Object o = value.As<Napi::Object>();
  BatchTensors b;
  Napi::Value bs = o.Get("batchSize"), sl = o.Get("seqLen");
  auto positive = [&](const Napi::Value& v, const char* field) -> int64_t {
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
    if (!v.IsNumber() || !(d >= 1) || d != static_cast<double>(static_cast<int64_t>(d)))
      throw MakeError(env, "ERR_INVALID_ARG", std::string("Expected positive integer for ") + field + " but received " +
                                                  DescribeValue(v) + " (" + where + "; " + kBatchShape + ")");
    return static_cast<int64_t>(d);
  };
  b.batch = positive(bs, "batchSize");
  b.seq = positive(sl, "seqLen");
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
  b.attention_mask = CopyInt32Array(env, o.Get("attentionMask"), "attentionMask", n);
  check(b.attention_mask, "attentionMask", 0, 2, false);
  b.attention_mask = b.attention_mask.view({b.batch, b.seq});
  {  // counted here, on the host, so that the step does not wait on the device for it
    const int32_t* m = b.attention_mask.data_ptr<int32_t>();
    int64_t t = 0;
    for (int64_t i = 0; i < n; i++) t += m[i];
    b.tokens = t;
  }
  b.token_type_ids = CopyInt32Array(env, o.Get("tokenTypeIds"), "tokenTypeIds", n);
  check(b.token_type_ids, "tokenTypeIds", 0, c.type_vocab_size, false);
  b.token_type_ids = b.token_type_ids.view({b.batch, b.seq});
  const std::string& h = c.head;
  Napi::Value labels = o.Get("labels");
  Napi::Value labelsFloat = o.Get("labelsFloat");
  if (ReadPromptFields(env, o, where, c, b)) {
    // a prompt batch (mlm head): its labels are class ids, read with the verbalizer
  } else if (h == "token" || h == "mlm") {
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
  } else if (h == "relation") {
    ReadRelationFields(env, o, where, c, b);  // native/relation.h
  } else if (h == "intent-slots") {
    if (!labels.IsUndefined()) {
      b.labels = CopyInt32Array(env, labels, "labels", b.batch);
      check(b.labels, "labels", 0, c.num_labels, true);
    }
    Napi::Value l2 = o.Get("slotLabels");
    if (!l2.IsUndefined()) {
      b.labels2 = CopyInt32Array(env, l2, "slotLabels", n);
      check(b.labels2, "slotLabels", 0, c.num_slot_labels, true);
      b.labels2 = b.labels2.view({b.batch, b.seq});
    }
  }
  if (needTargets && !b.labels.defined() && !b.start_positions.defined())
    throw MakeError(env, "ERR_INVALID_ARG", "trainStep needs targets in " + where + ": " + TargetFields(c));
  return b;
}

// Off the CPU, every int32 tensor of the batch goes into one pinned staging buffer and over in one
// asynchronous copy (the pinned allocator keeps the buffer until the copy is done); the widening
// to int64 runs there.
void ToDevice(BatchTensors& b, torch::Device d) {
  std::vector<torch::Tensor*> ints;
  for (auto* t : {&b.input_ids, &b.attention_mask, &b.token_type_ids, &b.labels, &b.labels2, &b.start_positions, &b.end_positions,
                  &b.mask_positions, &b.verbalizer_ids, &b.soft_prompt_slots, &b.entity_positions})
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
  for (auto* t : {&b.labels, &b.labels2, &b.verbalizer_weights})
    if (t->defined() && t->device() != d) *t = t->to(d);
}

}  // namespace roots
