// Dropout with a counter-based random stream: the keep mask of element i is a hash of
// (seed, i), computed in parallel. On CPU this replaces at::dropout, whose bernoulli_ draws one
// mt19937 number per element on one thread and was a third of a training step
// (bench/train-step: 118 of 388 ms). Deterministic for a given seed whatever the thread count.
#pragma once
#include "common.h"

namespace roots {

// y = x * mask / (1 - p), mask ~ Bernoulli(1 - p); differentiable. Falls back to at::dropout off CPU.
torch::Tensor FastDropout(const torch::Tensor& x, double p, uint64_t seed);

// The keep mask FastDropout(x, p, seed) draws for a contiguous x of n elements (1: keep), for fused
// kernels that apply the same dropout. seed as given to FastDropout.
void FillDropoutMask(uint8_t* mask, int64_t n, double p, uint64_t seed);

}  // namespace roots
