#include "adamw.h"

#include <cmath>

namespace roots {

namespace {

// One pass over a contiguous float range: reads p, g, m, v once and writes p, m, v once.
void OnePassCpu(float* p, const float* g, float* m, float* v, int64_t n, float lr, float wd, float b1, float b2,
                float eps, float bc1, float bc2sqrt) {
  const float decay = 1.0f - lr * wd, step = lr / bc1, ob1 = 1.0f - b1, ob2 = 1.0f - b2;
  at::parallel_for(0, n, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      const float pi = p[i] * decay;
      const float gi = g[i];
      const float mi = m[i] * b1 + gi * ob1;
      const float vi = v[i] * b2 + gi * gi * ob2;
      m[i] = mi;
      v[i] = vi;
      p[i] = pi - step * (mi / (std::sqrt(vi) / bc2sqrt + eps));
    }
  });
}

// The same update with tensor ops (any device): five passes over memory instead of one.
void PerTensor(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& m, torch::Tensor& v, double wd,
               const AdamWOptions& opt, double bc1, double bc2) {
  if (wd != 0) p.mul_(1.0 - opt.lr * wd);
  m.mul_(opt.beta1).add_(g, 1.0 - opt.beta1);
  v.mul_(opt.beta2).addcmul_(g, g, 1.0 - opt.beta2);
  auto denom = (v.sqrt() / std::sqrt(bc2)).add_(opt.eps);
  p.addcdiv_(m, denom, -opt.lr / bc1);
}

}  // namespace

AdamW::AdamW(torch::Device device) {
  const char* env = std::getenv("ROOTS_ADAMW");
  const std::string choice = env && *env ? env : "fused";
  if (choice != "fused" && choice != "foreach" && choice != "torch")
    throw RootsException("ERR_CONFIG", "ROOTS_ADAMW=" + choice + " (expected fused, foreach or torch)");
  if (choice == "foreach") kernel_ = Kernel::kPerTensor;
  else if (choice == "torch") {
#if ROOTS_TORCH_AT_LEAST(2, 4)
    if (device.is_cpu()) { kernel_ = Kernel::kFusedCpu; return; }
#endif
#if ROOTS_TORCH_AT_LEAST(2, 1)
    if (device.is_cuda()) { kernel_ = Kernel::kFusedCuda; return; }
#endif
    throw RootsException("ERR_UNSUPPORTED", "ROOTS_ADAMW=torch: this LibTorch (" + std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
                                                ") has no at::_fused_adamw_ for " + device.str() +
                                                " (CPU needs >= 2.4, CUDA >= 2.1); unset ROOTS_ADAMW");
  } else if (device.is_cpu()) kernel_ = Kernel::kOnePass;
#if ROOTS_TORCH_AT_LEAST(2, 1)
  else if (device.is_cuda()) kernel_ = Kernel::kFusedCuda;
#endif
  else kernel_ = Kernel::kPerTensor;
}

const char* AdamW::kernel() const {
  switch (kernel_) {
    case Kernel::kOnePass: return "one-pass";
    case Kernel::kPerTensor: return "per-tensor";
    case Kernel::kFusedCuda: return "fused-cuda";
    case Kernel::kFusedCpu: return "fused-cpu";
  }
  return "?";
}

void AdamW::update(std::vector<ParamGroup>& groups, int64_t step, const AdamWOptions& opt, double gradNorm,
                   double maxGradNorm) {
  // clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
  if (maxGradNorm > 0) {
    const double coef = maxGradNorm / (gradNorm + 1e-6);
    if (coef < 1.0)
      for (auto& g : groups) g.grad.mul_(coef);
  }
  const double bc1 = 1.0 - std::pow(opt.beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(opt.beta2, static_cast<double>(step));
  for (auto& g : groups) {
    const double wd = g.decay ? opt.weight_decay : 0.0;
    for (const auto& run : g.runs) {
      auto p = g.data.narrow(0, run.offset, run.numel);
      auto gr = g.grad.narrow(0, run.offset, run.numel);
      auto m = g.exp_avg.narrow(0, run.offset, run.numel);
      auto v = g.exp_avg_sq.narrow(0, run.offset, run.numel);
      if (kernel_ == Kernel::kOnePass)
        OnePassCpu(p.data_ptr<float>(), gr.data_ptr<float>(), m.data_ptr<float>(), v.data_ptr<float>(), run.numel,
                   static_cast<float>(opt.lr), static_cast<float>(wd), static_cast<float>(opt.beta1),
                   static_cast<float>(opt.beta2), static_cast<float>(opt.eps), static_cast<float>(bc1),
                   static_cast<float>(std::sqrt(bc2)));
      else
        PerTensor(p, gr, m, v, wd, opt, bc1, bc2);
    }
  }
}

void AdamW::updateOnDevice(std::vector<ParamGroup>& groups, int64_t step, const AdamWOptions& opt,
                           const torch::Tensor& loss, const torch::Tensor& gradNorm, double maxGradNorm) {
#if ROOTS_TORCH_AT_LEAST(2, 1)
  // at::_fused_adamw_ (torch.optim.AdamW(fused=True)'s kernel), one launch per group: it divides
  // the gradients by grad_scale (clip_grad_norm_'s coefficient, inverted) and writes them back, and
  // leaves everything untouched when found_inf is 1 (a non-finite loss or norm), so nothing here
  // needs the norm on the host.
  const auto device = groups.at(0).data.device();
  auto finite = at::logical_and(at::isfinite(gradNorm), at::isfinite(loss));
  auto foundInf = at::logical_not(finite).to(torch::kFloat32);
  torch::Tensor gradScale;
  if (maxGradNorm > 0) gradScale = at::clamp_min((gradNorm + 1e-6) / maxGradNorm, 1.0).to(torch::kFloat32);
  if (!stepTensor_.defined()) stepTensor_ = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  stepTensor_.fill_(static_cast<double>(step));
  for (auto& g : groups) {
    const double wd = g.decay ? opt.weight_decay : 0.0;
    std::vector<torch::Tensor> ps, gs, ms, vs, steps;
    for (const auto& run : g.runs) {
      ps.push_back(g.data.narrow(0, run.offset, run.numel));
      gs.push_back(g.grad.narrow(0, run.offset, run.numel));
      ms.push_back(g.exp_avg.narrow(0, run.offset, run.numel));
      vs.push_back(g.exp_avg_sq.narrow(0, run.offset, run.numel));
      steps.push_back(stepTensor_);
    }
    if (ps.empty()) continue;
    if (gradScale.defined())
      at::_fused_adamw_(ps, gs, ms, vs, {}, steps, opt.lr, opt.beta1, opt.beta2, wd, opt.eps, /*amsgrad=*/false,
                        /*maximize=*/false, gradScale, foundInf);
    else
      at::_fused_adamw_(ps, gs, ms, vs, {}, steps, opt.lr, opt.beta1, opt.beta2, wd, opt.eps, /*amsgrad=*/false,
                        /*maximize=*/false, {}, foundInf);
  }
#else
  (void)groups; (void)step; (void)opt; (void)loss; (void)gradNorm; (void)maxGradNorm;
  throw RootsException("ERR_UNSUPPORTED", "the fused AdamW kernel needs LibTorch >= 2.1");
#endif
}

}  // namespace roots
