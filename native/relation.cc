#include "relation.h"

namespace roots {

bool RelationEntityStart(const BertConfig& c) { return c.relation_pooling != "cls"; }

int64_t RelationFeatureSize(const BertConfig& c) { return (RelationEntityStart(c) ? 2 : 1) * c.hidden_size; }

void ReadRelationFields(Napi::Env env, Napi::Object o, const std::string& where, const BertConfig& c, BatchTensors& b) {
  auto fail = [&](const std::string& m) { return MakeError(env, "ERR_INVALID_ARG", where + ": " + m); };
  const int64_t B = b.batch, T = b.seq;
  Napi::Value ep = o.Get("entityPositions");
  if (!ep.IsUndefined()) {
    auto positions = CopyInt32Array(env, ep, "entityPositions", B * 2);
    const int32_t* pp = positions.data_ptr<int32_t>();
    const int32_t* am = b.attention_mask.data_ptr<int32_t>();
    for (int64_t r = 0; r < B; r++) {
      for (int64_t k = 0; k < 2; k++) {
        const int64_t i = r * 2 + k;
        const std::string at = "entityPositions[" + std::to_string(i) + "] (row " + std::to_string(r) + ", [E" + std::to_string(k + 1) + "])";
        if (pp[i] < 0 || pp[i] >= T) throw fail(at + " = " + std::to_string(pp[i]) + " is outside the row (seqLen " + std::to_string(T) + ")");
        if (am[r * T + pp[i]] != 1) throw fail(at + " = " + std::to_string(pp[i]) + " points at padding");
      }
    }
    b.entity_positions = positions.view({B, 2});
  } else if (RelationEntityStart(c)) {
    throw fail("a relation model with entity-start pooling needs entityPositions (Int32Array of batchSize * 2: the token index of [E1] and [E2] in each row)");
  }
  Napi::Value labels = o.Get("labels");
  if (labels.IsUndefined()) return;
  auto l = CopyInt32Array(env, labels, "labels", B);
  const int32_t* lp = l.data_ptr<int32_t>();
  for (int64_t r = 0; r < B; r++)
    if ((lp[r] < 0 || lp[r] >= c.num_labels) && lp[r] != -100)
      throw fail("labels[" + std::to_string(r) + "] = " + std::to_string(lp[r]) + " is out of range [0, " + std::to_string(c.num_labels) + ") (or -100 to ignore)");
  b.labels = l;
}

torch::Tensor EntityStartStates(const torch::Tensor& x, const torch::Tensor& positions) {
  const int64_t B = x.size(0), T = x.size(1), H = x.size(2);
  // Row-major flat indices of (row, e1) and (row, e2): one gather, whose backward is one scatter-add.
  auto rows = torch::arange(B, positions.options()).unsqueeze(1) * T + positions;  // [B, 2]
  return x.reshape({B * T, H}).index_select(0, rows.reshape({B * 2})).view({B, 2 * H});
}

}  // namespace roots
