// AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias-corrected moments) and
// clip_grad_norm_'s scaling, over the model's flat parameter groups. One arithmetic, three kernels:
//   one-pass   (CPU, the default there): reads p, g, m, v once and writes p, m, v once;
//   per-tensor (any device; ROOTS_ADAMW=foreach): five tensor ops per range, the plain reference;
//   fused CUDA (ROOTS_ADAMW=fused on CUDA with LibTorch >= 2.1): at::_fused_adamw_, which also
//              clips and skips a non-finite step on the device, so the step never waits for the host;
//   fused CPU  (ROOTS_ADAMW=torch on CPU with LibTorch >= 2.4): the same at::_fused_adamw_, whose CPU
//              kernel PyTorch added in 2.4 (torch.optim.AdamW(fused=True) on CPU). Not the CPU default:
//              measured no faster than one-pass (bench/results/2026-11-30-libtorch2.md).
// Both CPU kernels are held to PyTorch by test/engine-parity.test.ts.
#pragma once
#include "common.h"

namespace roots {

// Every value is required: the defaults (Hugging Face's) are resolved once, in TypeScript
// (lib/models/optimizer.ts).
struct AdamWOptions {
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
};

// A run of consecutive elements of a flat buffer that the optimizer updates.
struct Run {
  int64_t offset;
  int64_t numel;
};

// Parameters live in flat buffers, one per weight-decay group, so that zeroing gradients, clipping
// and AdamW are a handful of vectorised operations over all parameters instead of hundreds of
// small ones. Each parameter is a view of its group's buffer; its gradient a view of the gradient
// buffer.
struct ParamGroup {
  torch::Tensor data, grad, exp_avg, exp_avg_sq;
  std::vector<Run> runs;  // trainable ranges (frozen parameters are left out)
  bool decay = true;
};

class AdamW {
 public:
  // The kernel for `device` from ROOTS_ADAMW: "fused" (default: one-pass on CPU, the fused kernel
  // on CUDA where LibTorch has it, per-tensor otherwise), "foreach" (per-tensor everywhere) or
  // "torch" (at::_fused_adamw_ on CUDA with LibTorch >= 2.1 and on CPU with >= 2.4; an error where
  // this LibTorch lacks it).
  explicit AdamW(torch::Device device);

  // "one-pass", "per-tensor", "fused-cuda" or "fused-cpu".
  const char* kernel() const;
  // Whether update() runs on the device without the norm on the host (the fused CUDA kernel).
  bool updatesOnDevice() const { return kernel_ == Kernel::kFusedCuda || kernel_ == Kernel::kFusedCpu; }

  // Queues clip + update for `step` (1-based) on the device: no host synchronisation, and nothing
  // changes when `loss` or `gradNorm` (0-dim tensors) are not finite. Only when updatesOnDevice().
  void updateOnDevice(std::vector<ParamGroup>& groups, int64_t step, const AdamWOptions& opt,
                      const torch::Tensor& loss, const torch::Tensor& gradNorm, double maxGradNorm);
  // Clips to maxGradNorm (0: off) with the norm known on the host, then updates for `step` (1-based).
  void update(std::vector<ParamGroup>& groups, int64_t step, const AdamWOptions& opt, double gradNorm,
              double maxGradNorm);

 private:
  enum class Kernel { kOnePass, kPerTensor, kFusedCuda, kFusedCpu };
  Kernel kernel_;
  torch::Tensor stepTensor_;  // the step count as a float on the device (fused kernel)
};

}  // namespace roots
