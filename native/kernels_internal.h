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

// Load(p, j): element j as float. StoreAt(p, j, v): v as T stores it, bf16 rounded to nearest even as
// c10::BFloat16's constructor does (NaN to the quiet NaN). Round<T>(v): v as stored in T and read
// back (a bf16 intermediate of the unfused composition is rounded). bf16 goes through its bits in
// 32-bit integer operations, which vectorise: c10's conversion has a branch that kept every bf16
// loop scalar (the LayerNorm backward alone was 5% of a bf16 training step).
inline uint32_t Bf16Bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  const uint32_t nan = 0u - static_cast<uint32_t>(v != v);  // all ones for a NaN (a mask, not a branch)
  return ((u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u & ~nan) | (nan & 0x7fc00000u);
}
inline float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline float Load(const float* p, int64_t j) { return p[j]; }
inline float Load(const BF16* p, int64_t j) { return FromBits(static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(p)[j]) << 16); }
inline void StoreAt(float* p, int64_t j, float v) { p[j] = v; }
inline void StoreAt(BF16* p, int64_t j, float v) { reinterpret_cast<uint16_t*>(p)[j] = static_cast<uint16_t>(Bf16Bits(v) >> 16); }
template <typename T>
inline float Round(float v);
template <>
inline float Round<float>(float v) { return v; }
template <>
inline float Round<BF16>(float v) { return FromBits(Bf16Bits(v)); }

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
  const float v = q * two;  // computed unconditionally: a select, not a branch, vectorises without masks (AVX2)
  return x < -87.3f ? 0.0f : v;
}

}  // namespace roots::kernels
