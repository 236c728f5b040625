// Continual learning in the engine: the EWC and L2-SP penalties, the diagonal Fisher, and LwF's
// distillation term. Fisher, EWC anchor and L2-SP start live in flat buffers shaped like the
// parameter groups (adamw.h), so each penalty's gradient is two fused element-wise passes added
// straight into the gradient buffers before clipping: no autograd graph for the penalty.
//   EWC:   lambda * sum F (theta - theta*)^2      gradient 2 lambda F (theta - theta*)
//   L2-SP: alpha / 2 * ||theta - theta0||^2       gradient alpha (theta - theta0)
//   LwF:   weight * T^2 * KL(softmax(teacher / T) || softmax(student[..., :L_old] / T)), the mean over
//          the rows (sequence) or the labelled tokens (token head, labels != -100)
#pragma once
#include "adamw.h"
#include "common.h"

namespace roots {

class Bert;
struct BatchTensors;

struct ContinualState {
  double ewc_lambda = 0, l2sp_alpha = 0;
  // Per parameter group (ParamGroup::data's shape); undefined: none.
  std::vector<torch::Tensor> fisher, anchor, start;
  // The Fisher being accumulated (AccumulateFisher) until consolidate().
  std::vector<torch::Tensor> fisher_new;
  int64_t fisher_batches = 0;
};

// Adds the penalties' gradients to the groups' gradient buffers over their trainable runs; returns
// the penalty's value (a 0-dim float tensor) or an undefined tensor when no penalty is on.
torch::Tensor ApplyContinualPenalty(ContinualState& s, std::vector<ParamGroup>& groups);

// LwF's term for one micro-batch (b.teacher_logits defined) given the student's logits.
torch::Tensor DistillLoss(const torch::Tensor& logits, const BatchTensors& b);

// Fisher accumulation: for each batch, the gradient of its mean loss (eval mode: no dropout),
// squared, added to fisher_new; the gradient buffers are zero afterwards.
void AccumulateFisher(Bert& m, const std::vector<BatchTensors>& batches);

// The buffer of `which` ("fisher", "anchor", "start") seen as the parameter `name` (a view).
torch::Tensor ContinualView(Bert& m, const std::string& which, const std::string& name);

}  // namespace roots
