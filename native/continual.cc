// Continual learning in the engine (continual.h): penalties added to the flat gradient buffers,
// the diagonal Fisher from squared gradients, LwF's distillation term.
#include "continual.h"

#include "bert.h"

namespace roots {

namespace {

// The group whose flat buffer `t` (a parameter view) lives in, and t's layout relative to it.
int GroupOf(Bert& m, const torch::Tensor& t) {
  auto& groups = m.groups();
  for (size_t g = 0; g < groups.size(); g++)
    if (t.storage().is_alias_of(groups[g].data.storage())) return static_cast<int>(g);
  throw RootsException("ERR_INTERNAL", "a parameter outside the model's flat buffers");
}

}  // namespace

torch::Tensor ApplyContinualPenalty(ContinualState& s, std::vector<ParamGroup>& groups) {
  const bool ewc = s.ewc_lambda > 0 && !s.fisher.empty();
  const bool l2sp = s.l2sp_alpha > 0 && !s.start.empty();
  if (!ewc && !l2sp) return {};
  torch::NoGradGuard ng;
  torch::Tensor total;
  auto add = [&](const torch::Tensor& v) { total = total.defined() ? total + v : v; };
  for (size_t g = 0; g < groups.size(); g++) {
    auto& G = groups[g];
    for (const auto& r : G.runs) {  // trainable ranges only: frozen weights take no gradient
      auto p = G.data.narrow(0, r.offset, r.numel);
      auto grad = G.grad.narrow(0, r.offset, r.numel);
      if (ewc) {
        auto f = s.fisher[g].narrow(0, r.offset, r.numel);
        auto d = p - s.anchor[g].narrow(0, r.offset, r.numel);
        auto fd = f * d;
        grad.add_(fd, 2 * s.ewc_lambda);
        add(at::dot(fd, d) * s.ewc_lambda);
      }
      if (l2sp) {
        auto d = p - s.start[g].narrow(0, r.offset, r.numel);
        grad.add_(d, s.l2sp_alpha);
        add(at::dot(d, d) * (s.l2sp_alpha / 2));
      }
    }
  }
  return total;
}

torch::Tensor DistillLoss(const torch::Tensor& logits, const BatchTensors& b) {
  const auto& t = b.teacher_logits;
  const int64_t L = t.size(-1);
  if (logits.dim() != t.dim() || logits.size(-1) < L)
    throw RootsException("ERR_INVALID_ARG", "teacher logits [" + std::to_string(L) + " labels] do not fit the student's logits");
  const double T = b.distill_temperature;
  auto s = logits.narrow(-1, 0, L).to(torch::kFloat32).reshape({-1, L});
  auto tt = t.to(torch::kFloat32).reshape({-1, L});
  auto logP = at::log_softmax(tt / T, -1);
  auto logQ = at::log_softmax(s / T, -1);
  auto kl = (logP.exp() * (logP - logQ)).sum(-1);  // per row / token
  torch::Tensor mean;
  if (logits.dim() == 3) {  // token head: the labelled tokens
    auto mask = (b.labels.reshape({-1}) != -100).to(torch::kFloat32);
    mean = (kl * mask).sum() / mask.sum().clamp_min(1);
  } else {
    mean = kl.mean();
  }
  return mean * (b.distill_weight * T * T);
}

void AccumulateFisher(Bert& m, const std::vector<BatchTensors>& batches) {
  ContinualState& s = m.continual;
  auto& groups = m.groups();
  if (s.fisher_new.empty()) {
    for (auto& g : groups) s.fisher_new.push_back(torch::zeros_like(g.data));
    s.fisher_batches = 0;
  }
  for (const auto& b : batches) {
    m.zeroGrad();
    torch::Tensor loss;
    {
      torch::AutoGradMode grad(true);
      AutocastGuard ac(m.precision() == "bf16", m.device().type());
      loss = m.forward(b, false).loss;
    }
    if (!loss.defined()) throw RootsException("ERR_INVALID_ARG", "the Fisher needs labels in every batch");
    loss.backward();
    torch::NoGradGuard ng;
    for (size_t g = 0; g < groups.size(); g++) s.fisher_new[g].addcmul_(groups[g].grad, groups[g].grad);
    s.fisher_batches++;
  }
  m.zeroGrad();
}

torch::Tensor ContinualView(Bert& m, const std::string& which, const std::string& name) {
  auto p = m.find(name);
  if (!p) throw RootsException("ERR_INVALID_ARG", "no parameter named '" + name + "'");
  ContinualState& s = m.continual;
  std::vector<torch::Tensor>* buf = which == "fisher" ? &s.fisher : which == "anchor" ? &s.anchor : which == "start" ? &s.start : nullptr;
  if (!buf) throw RootsException("ERR_INVALID_ARG", "Expected 'fisher', 'anchor' or 'start' but received '" + which + "'");
  auto& groups = m.groups();
  if (buf->empty())
    for (auto& g : groups) buf->push_back(torch::zeros_like(g.data));
  const int g = GroupOf(m, *p);
  const auto& base = groups[g].data;
  return (*buf)[g].as_strided(p->sizes(), p->strides(), p->storage_offset() - base.storage_offset());
}

}  // namespace roots
