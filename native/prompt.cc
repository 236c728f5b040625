#include "prompt.h"

#include <cmath>

namespace roots {

void ReadSoftPromptSlots(Napi::Env env, Napi::Object o, const std::string& where, const BertConfig& c, BatchTensors& b) {
  Napi::Value v = o.Get("softPromptSlots");
  if (v.IsUndefined()) return;
  if (c.soft_prompt_tokens < 1)
    throw MakeError(env, "ERR_INVALID_ARG", where + " has softPromptSlots, but the model has no soft prompt (load it with config.soft_prompt_tokens = the template's number of [P])");
  auto slots = CopyInt32Array(env, v, "softPromptSlots", b.batch * b.seq);
  const int32_t* p = slots.data_ptr<int32_t>();
  for (int64_t i = 0; i < slots.numel(); i++)
    if (p[i] < -1 || p[i] >= c.soft_prompt_tokens)
      throw MakeError(env, "ERR_INVALID_ARG", where + ": softPromptSlots[" + std::to_string(i) + "] = " + std::to_string(p[i]) +
                                                  " is out of range [-1, " + std::to_string(c.soft_prompt_tokens) + ")");
  b.soft_prompt_slots = slots.view({b.batch, b.seq});
}

torch::Tensor SoftPromptEmbeddings(const torch::Tensor& x, const torch::Tensor& prompt, const torch::Tensor& slots) {
  auto picked = at::embedding(prompt, slots.clamp_min(0));
  return at::where(slots.ge(0).unsqueeze(-1), picked, x);
}

bool ReadPromptFields(Napi::Env env, Napi::Object o, const std::string& where, const BertConfig& c, BatchTensors& b) {
  ReadSoftPromptSlots(env, o, where, c, b);
  Napi::Value mp = o.Get("maskPositions");
  if (mp.IsUndefined()) return false;
  if (c.head != "mlm")
    throw MakeError(env, "ERR_INVALID_ARG", where + " has maskPositions (a prompt batch), which only a masked-LM model (BertForMaskedLM) takes, not a " + c.head + " head");
  auto fail = [&](const std::string& m) { return MakeError(env, "ERR_INVALID_ARG", where + ": " + m); };
  const int64_t B = b.batch, T = b.seq;
  Napi::Value nl = o.Get("verbalizerLabels");
  const double dC = nl.IsNumber() ? nl.As<Napi::Number>().DoubleValue() : 0;
  if (!nl.IsNumber() || !(dC >= 1) || dC != std::floor(dC))
    throw fail("Expected a positive integer for verbalizerLabels (the number of labels) but received " + DescribeValue(nl));
  const int64_t C = static_cast<int64_t>(dC);
  Napi::Value vi = o.Get("verbalizerIds");
  if (!vi.IsTypedArray()) throw fail("Expected an Int32Array for verbalizerIds but received " + DescribeValue(vi));
  const int64_t n = static_cast<int64_t>(vi.As<Napi::TypedArray>().ElementLength());
  if (n == 0 || n % C != 0)
    throw fail("verbalizerIds has " + std::to_string(n) + " entries, not a positive multiple of verbalizerLabels (" + std::to_string(C) + ")");
  const int64_t K = n / C;
  auto positions = CopyInt32Array(env, mp, "maskPositions", B);
  auto ids = CopyInt32Array(env, vi, "verbalizerIds", n);
  auto weights = CopyFloat32Array(env, o.Get("verbalizerWeights"), "verbalizerWeights", n);
  const int32_t* pp = positions.data_ptr<int32_t>();
  const int32_t* am = b.attention_mask.data_ptr<int32_t>();
  for (int64_t r = 0; r < B; r++) {
    if (pp[r] < 0 || pp[r] >= T) throw fail("maskPositions[" + std::to_string(r) + "] = " + std::to_string(pp[r]) + " is outside the row (seqLen " + std::to_string(T) + ")");
    if (am[r * T + pp[r]] != 1) throw fail("maskPositions[" + std::to_string(r) + "] = " + std::to_string(pp[r]) + " points at padding");
  }
  const int32_t* ip = ids.data_ptr<int32_t>();
  const float* wp = weights.data_ptr<float>();
  for (int64_t c0 = 0; c0 < C; c0++) {
    double total = 0;
    for (int64_t k = 0; k < K; k++) {
      const int64_t i = c0 * K + k;
      if (ip[i] < 0 || ip[i] >= c.vocab_size) throw fail("verbalizerIds[" + std::to_string(i) + "] = " + std::to_string(ip[i]) + " is out of range [0, " + std::to_string(c.vocab_size) + ")");
      if (!std::isfinite(wp[i]) || wp[i] < 0) throw fail("verbalizerWeights[" + std::to_string(i) + "] must be a finite number >= 0");
      total += wp[i];
    }
    if (!(total > 0)) throw fail("label " + std::to_string(c0) + " has no verbalizer token with a positive weight");
  }
  b.mask_positions = positions;
  b.verbalizer_ids = ids.view({C, K});
  b.verbalizer_weights = weights.view({C, K});
  Napi::Value labels = o.Get("labels");
  if (!labels.IsUndefined()) {
    auto l = CopyInt32Array(env, labels, "labels", B);
    const int32_t* lp = l.data_ptr<int32_t>();
    for (int64_t r = 0; r < B; r++)
      if ((lp[r] < 0 || lp[r] >= C) && lp[r] != -100)
        throw fail("labels[" + std::to_string(r) + "] = " + std::to_string(lp[r]) + " is out of range [0, " + std::to_string(C) + ") (or -100 to ignore)");
    b.labels = l;
  }
  return true;
}

torch::Tensor PromptMaskStates(const torch::Tensor& x, const torch::Tensor& positions) {
  const int64_t B = x.size(0), T = x.size(1), H = x.size(2);
  auto rows = torch::arange(B, positions.options()) * T + positions;
  return x.reshape({B * T, H}).index_select(0, rows);
}

torch::Tensor PromptScores(const torch::Tensor& vocabLogits, const torch::Tensor& ids, const torch::Tensor& weights) {
  const int64_t B = vocabLogits.size(0), C = ids.size(0), K = ids.size(1);
  auto logp = at::log_softmax(vocabLogits.to(torch::kFloat32), -1);
  auto picked = logp.index_select(1, ids.reshape({C * K})).view({B, C, K});
  return (picked * weights.to(torch::kFloat32).unsqueeze(0)).sum(-1);
}

}  // namespace roots
