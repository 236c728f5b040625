#include "dropout.h"

#include <torch/csrc/autograd/custom_function.h>

namespace roots {

namespace {

inline uint64_t SplitMix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Fills mask (0/1 bytes): each 64-bit hash gives four 16-bit uniforms.
void FillMask(uint8_t* mask, int64_t n, double p, uint64_t seed) {
  const uint32_t threshold = static_cast<uint32_t>(p * 65536.0 + 0.5);  // drop when u < threshold
  const uint64_t key = SplitMix64(seed);
  at::parallel_for(0, (n + 3) / 4, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; j++) {
      uint64_t h = SplitMix64(key ^ static_cast<uint64_t>(j) * 0xd6e8feb86659fd93ULL);
      const int64_t base = j * 4;
      for (int k = 0; k < 4 && base + k < n; k++) {
        mask[base + k] = static_cast<uint8_t>((h & 0xffff) >= threshold);
        h >>= 16;
      }
    }
  });
}

template <typename T>
void ApplyMask(const T* in, const uint8_t* mask, T* out, int64_t n, float scale) {
  at::parallel_for(0, n, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) out[i] = static_cast<T>(static_cast<float>(in[i]) * (mask[i] ? scale : 0.0f));
  });
}

torch::Tensor Masked(const torch::Tensor& x, const torch::Tensor& mask, float scale) {
  auto xc = x.contiguous();
  auto out = torch::empty_like(xc);
  const int64_t n = xc.numel();
  const uint8_t* m = mask.data_ptr<uint8_t>();
  switch (xc.scalar_type()) {
    case torch::kFloat32: ApplyMask(xc.data_ptr<float>(), m, out.data_ptr<float>(), n, scale); break;
    case torch::kBFloat16: ApplyMask(xc.data_ptr<at::BFloat16>(), m, out.data_ptr<at::BFloat16>(), n, scale); break;
    case torch::kFloat16: ApplyMask(xc.data_ptr<at::Half>(), m, out.data_ptr<at::Half>(), n, scale); break;
    case torch::kFloat64: {
      auto o = xc * mask.to(torch::kFloat64) * static_cast<double>(scale);
      return o;
    }
    default: throw RootsException("ERR_NATIVE", "dropout: unsupported dtype");
  }
  return out;
}

struct DropoutFn : public torch::autograd::Function<DropoutFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double p, int64_t seed) {
    auto mask = torch::empty(x.sizes(), x.options().dtype(torch::kUInt8));
    FillMask(mask.data_ptr<uint8_t>(), mask.numel(), p, static_cast<uint64_t>(seed));
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    ctx->save_for_backward({mask});
    ctx->saved_data["scale"] = static_cast<double>(scale);
    return Masked(x, mask, scale);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list g) {
    auto mask = ctx->get_saved_variables()[0];
    const float scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    return {Masked(g[0], mask, scale), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

void FillDropoutMask(uint8_t* mask, int64_t n, double p, uint64_t seed) {
  FillMask(mask, n, p, seed & 0x7fffffffffffffffULL);  // the seed DropoutFn receives (an int64)
}

torch::Tensor FastDropout(const torch::Tensor& x, double p, uint64_t seed) {
  if (p <= 0) return x;
  if (!x.device().is_cpu()) return at::dropout(x, p, true);
  if (p >= 1) return x * 0;
  return DropoutFn::apply(x, p, static_cast<int64_t>(seed & 0x7fffffffffffffffULL));
}

}  // namespace roots
