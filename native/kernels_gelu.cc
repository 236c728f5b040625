// GELU fused with the bias add of the linear before it (kernels.h: BiasGelu). Unfused, the
// intermediate layer's pre-activation is written by addmm (bias broadcast, then the product),
// read and written by GELU, and in backward GELU's gradient is written and then read again to sum
// the bias gradient; fused, the product is written once without its bias, and forward and backward
// are one pass each. erf is a polynomial + exp written so that it vectorises (std::erf does not).
#include "kernels.h"

#include "kernels_internal.h"

#include <torch/csrc/autograd/custom_function.h>

namespace roots {

namespace {

using namespace kernels;

// Phi(x) = 0.5 * (1 + erf(x / sqrt 2)), the standard normal CDF. erf(z) for |z| < 0.921875 is
// z * P(z^2) (degree 6, fitted by least squares to relative error 1e-9); above, 1 - erf(|z|) =
// exp(Q(|z|)) (Q of degree 8, fitted to log(erfc) to 3e-8 absolute), which for negative x gives
// Phi without the cancellation of 1 + erf; 0 / 1 beyond |z| = 3.9375, where erfc(|z|) < 2^-27.
// In fp32 against double-precision erfc, swept over [-12, 12] in steps of 1e-5: Phi within
// 1e-7 absolute, and within 4e-6 relative where it is above 1e-8.
inline float NormalCdf(float x) {
  const float z = x * 0.70710678118654752f, t = std::fabs(z), s = z * z;
  float p = 8.362148600635264e-05f;
  p = p * s - 8.138158359259078e-04f;
  p = p * s + 5.200295488152762e-03f;
  p = p * s - 2.685889218042468e-02f;
  p = p * s + 1.1283679779124144e-01f;
  p = p * s - 3.7612631761677745e-01f;
  p = p * s + 1.1283791659863256f;
  const float small = 0.5f + 0.5f * (z * p);
  float q = 1.649506489403872e-06f;
  q = q * t - 4.6259504027268014e-05f;
  q = q * t + 5.9814113979548e-04f;
  q = q * t - 4.764150182829235e-03f;
  q = q * t + 2.642925092947134e-02f;
  q = q * t - 1.1008595096188828e-01f;
  q = q * t - 6.318286279611027e-01f;
  q = q * t - 1.130226872427017f;
  q = q * t + 3.173038748123247e-04f;
  // Every value computed unconditionally, then selected: GCC vectorises selects without AVX-512's masks.
  const float e = 0.5f * ExpNeg(q);
  const float half = t < 3.9375f ? e : 0.0f;
  const float upper = 1.0f - half;
  const float large = z > 0 ? upper : half;
  return t < 0.921875f ? small : large;
}

// The rows go through a float buffer a chunk at a time: the math in loops over floats only, the bf16
// loads and stores in loops of their own (mixed in one loop, GCC vectorised none of the bf16 version).
constexpr int64_t kChunk = 256;

// Rows [r0, r1) of N: z = Round<TX>(x + b); y = z * Phi(z).
template <typename TX>
ROOTS_CLONES void GeluForwardRows(const TX* __restrict__ x, const float* __restrict__ b, int64_t N, int64_t r0, int64_t r1,
                                  TX* __restrict__ y) {
  float z[kChunk];
  for (int64_t r = r0; r < r1; r++) {
    for (int64_t j0 = 0; j0 < N; j0 += kChunk) {
      const int64_t n = std::min(kChunk, N - j0);
      const TX* xr = x + r * N + j0;
      TX* yr = y + r * N + j0;
      for (int64_t j = 0; j < n; j++) z[j] = Round<TX>(Load(xr, j) + b[j0 + j]);
      for (int64_t j = 0; j < n; j++) z[j] = z[j] * NormalCdf(z[j]);
      for (int64_t j = 0; j < n; j++) StoreAt(yr, j, z[j]);
    }
  }
}

// Rows [r0, r1): dz = Round<TX>(dy * (Phi(z) + z * phi(z))); dx = dz; db += dz (this task's partial sums).
template <typename TX>
ROOTS_CLONES void GeluBackwardRows(const TX* __restrict__ dy, const TX* __restrict__ x, const float* __restrict__ b, int64_t N,
                                   int64_t r0, int64_t r1, TX* __restrict__ dx, float* __restrict__ db) {
  float z[kChunk], g[kChunk];
  for (int64_t r = r0; r < r1; r++) {
    for (int64_t j0 = 0; j0 < N; j0 += kChunk) {
      const int64_t n = std::min(kChunk, N - j0);
      const TX* xr = x + r * N + j0;
      const TX* gr = dy + r * N + j0;
      TX* d = dx + r * N + j0;
      for (int64_t j = 0; j < n; j++) z[j] = Round<TX>(Load(xr, j) + b[j0 + j]);
      for (int64_t j = 0; j < n; j++) g[j] = Load(gr, j);
      for (int64_t j = 0; j < n; j++) {
        const float pdf = 0.3989422804014327f * ExpNeg(-0.5f * z[j] * z[j]);
        g[j] = g[j] * (NormalCdf(z[j]) + z[j] * pdf);
      }
      for (int64_t j = 0; j < n; j++) g[j] = Round<TX>(g[j]);
      for (int64_t j = 0; j < n; j++) StoreAt(d, j, g[j]);
      for (int64_t j = 0; j < n; j++) db[j0 + j] += g[j];
    }
  }
}

template <typename F>
void DispatchGelu(torch::ScalarType t, F&& f) {
  if (t == torch::kFloat32) f(float());
  else f(BF16());
}

struct BiasGeluFn : public torch::autograd::Function<BiasGeluFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x0, const torch::Tensor& b0) {
    auto x = Contig(x0), b = Contig(b0);
    const int64_t N = x.size(-1), R = x.numel() / N;
    auto y = torch::empty(x.sizes(), x.options());
    DispatchGelu(x.scalar_type(), [&](auto tx) {
      using TX = decltype(tx);
      at::parallel_for(0, R, Grain(N), [&](int64_t r0, int64_t r1) {
        GeluForwardRows<TX>(static_cast<const TX*>(x.data_ptr()), b.data_ptr<float>(), N, r0, r1, static_cast<TX*>(y.data_ptr()));
      });
    });
    ctx->save_for_backward({x, b});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &b = saved[1];
    const int64_t N = x.size(-1), R = x.numel() / N;
    auto dy = Contig(grads[0].to(x.scalar_type()));
    auto dx = torch::empty(x.sizes(), x.options());
    auto partial = torch::zeros({at::get_num_threads(), N}, b.options());
    DispatchGelu(x.scalar_type(), [&](auto tx) {
      using TX = decltype(tx);
      at::parallel_for(0, R, Grain(N), [&](int64_t r0, int64_t r1) {
        float* part = partial.data_ptr<float>() + static_cast<int64_t>(at::get_thread_num()) * N;
        GeluBackwardRows<TX>(static_cast<const TX*>(dy.data_ptr()), static_cast<const TX*>(x.data_ptr()), b.data_ptr<float>(), N, r0, r1,
                             static_cast<TX*>(dx.data_ptr()), part);
      });
    });
    return {dx, partial.sum(0)};
  }
};

}  // namespace

torch::Tensor BiasGelu(const torch::Tensor& x, const torch::Tensor& bias) {
  const bool ok = Supported(x) && bias.device().is_cpu() && bias.scalar_type() == torch::kFloat32 && bias.dim() == 1 &&
                  x.dim() >= 1 && x.size(-1) == bias.size(0) && x.numel() > 0;
  if (!ok) return at::gelu(x + bias.to(x.scalar_type()));
  return BiasGeluFn::apply(x, bias);
}

}  // namespace roots
