// Helpers shared by the fused-kernel files (kernels.cc, kernels_gelu.cc); not part of kernels.h's API.
#pragma once
#include "common.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace roots::kernels {

// Row loops are plain C++ written so that the compiler vectorises them, compiled for AVX-512, AVX2
// and the baseline (target_clones: the loader picks one by the CPU's flags).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ROOTS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ROOTS_CLONES
#endif

using BF16 = c10::BFloat16;

// A value as the unfused composition stores it in T (a bf16 intermediate is rounded).
template <typename T>
inline float Round(float v) { return static_cast<float>(static_cast<T>(v)); }

// Rows of at least ~16k elements per task (less work is not worth a thread).
inline int64_t Grain(int64_t rowLength) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, rowLength)); }

inline torch::Tensor Contig(const torch::Tensor& t) { return t.is_contiguous() ? t : t.contiguous(); }

// On the CPU, in a dtype the kernels are written for.
inline bool Supported(const torch::Tensor& t) {
  return t.device().is_cpu() && (t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16);
}

// exp(x) for x <= 0 (what a max-shifted softmax needs): Cephes' expf (range reduction by ln 2, a
// degree-6 polynomial; within 2 ulp of std::exp), written so that it vectorises; 0 below -87.3.
inline float ExpNeg(float x) {
  const float xc = std::max(x, -87.3f);
  // n = round(xc / ln 2) by the 1.5 * 2^23 trick (std::floor does not vectorise without -ffast-math).
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float q = 1.9875691500e-4f;
  q = q * r + 1.3981999507e-3f;
  q = q * r + 8.3334519073e-3f;
  q = q * r + 4.1665795894e-2f;
  q = q * r + 1.6666665459e-1f;
  q = q * r + 5.0000001201e-1f;
  q = q * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float two;
  std::memcpy(&two, &bits, sizeof two);
  return x < -87.3f ? 0.0f : q * two;
}

}  // namespace roots::kernels
