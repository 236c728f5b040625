// Data parallelism on LibTorch's c10d: a process group (TCPStore rendezvous from torchrun's
// environment, Gloo on CPU, NCCL on CUDA where this LibTorch has it) and the gradient all-reduce
// hooked into Bert::trainStep. The c10d headers stay in distributed.cc: this header is light, so
// bert.h can hold a GradSync without every translation unit parsing c10d and Gloo.
#pragma once
#include "adamw.h"
#include "common.h"

namespace roots {

class Bert;

// Gradient synchronisation across data-parallel ranks, called by Bert::trainStep (bert.h):
//   beforeLastBackward: before the backward pass of the step's last micro-batch (earlier ones
//                       accumulate locally: no all-reduce on non-final micro-batches); buckets of
//                       the flat gradient buffers start their all-reduce as their gradients become
//                       final during that backward pass;
//   finish:             after it: starts what is left, waits for every bucket (a dead or stalled
//                       rank is an ERR_DISTRIBUTED error within the group's timeout), averages, and
//                       sums (loss, tokens) over the ranks (the loss then averaged). A non-finite
//                       gradient on any rank makes the averaged one non-finite on every rank, so all
//                       ranks skip that step together.
class GradSync {
 public:
  virtual ~GradSync() = default;
  virtual void beforeLastBackward(Bert& m, std::vector<ParamGroup>& groups) = 0;
  virtual void finish(std::vector<ParamGroup>& groups, torch::Tensor& loss, int64_t& tokens) = 0;
};

// exports.ProcessGroup and exports.distributedInfo.
void InitDistributed(Napi::Env env, Napi::Object exports);

// model.distributed(op, ...): 'attach' (group, { bucketBytes, overlap }), 'detach', 'info' run at
// once (`value`); 'broadcast' (rank 0's weights to every rank) is a job for the model to run.
struct DistributedCallResult {
  Napi::Value value;
  Job::Work work;
  Job::Done done;
};
DistributedCallResult DistributedCall(const Napi::CallbackInfo& info, const std::shared_ptr<Bert>& model);

}  // namespace roots
