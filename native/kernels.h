// Fused element-wise kernels for the CPU training step and inference: one pass over the activations where the
// unfused composition makes several (each a full read and write of a [tokens, hidden] or
// [batch, heads, T, T] tensor). Each is a differentiable function with its own backward, checked
// against the unfused composition in test/fused-kernels.test.ts (fp32 and bf16 autocast).
// ROOTS_FUSED=0 (read when a model is built) selects the unfused composition, for those tests and
// for measuring one against the other. Off the CPU, or for dtypes other than fp32/bf16, the
// functions run the unfused composition themselves.
#pragma once
#include "common.h"

namespace roots {

// Whether ROOTS_FUSED allows the fused kernels ("1", the default, or "0"); throws ERR_CONFIG otherwise.
bool FusedKernelsFromEnv();

// LayerNorm(dropout(x, p) + residual) over the last dimension, as
// at::layer_norm(FastDropout(x, p, seed) + residual, ...) computes it (the same dropout mask for
// the same seed). x and residual: fp32 or bf16, same shape; the result has their promoted dtype.
// weight, bias: fp32 [H]. p = 0: no dropout.
torch::Tensor DropoutAddLayerNorm(const torch::Tensor& x, const torch::Tensor& residual, const torch::Tensor& weight,
                                  const torch::Tensor& bias, double eps, double p, uint64_t seed);

// dropout(softmax(scores * scale + mask), p) over the last dimension, as the attention's math path
// computes it with FastDropout(seed). scores: [B, heads, Tq, Tk], fp32 or bf16; keyMask: fp32
// [B, Tk] additive (0 or the lowest float), or undefined. The result is fp32 when keyMask is given
// (the promotion of scores + mask), else scores' dtype.
torch::Tensor ScaledMaskedSoftmaxDropout(const torch::Tensor& scores, double scale, const torch::Tensor& keyMask, double p,
                                         uint64_t seed);

// GELU(x + bias), the exact (erf) GELU of BERT's hidden_act "gelu", as
// at::gelu(at::linear(in, w, bias)) computes it when x = at::linear(in, w) (kernels_gelu.cc).
// x: fp32 or bf16 [..., N]; bias: fp32 [N]; the result has x's dtype (x + bias rounded to it first,
// as the linear's output would be). Saves only x: backward recomputes x + bias and gives dx and
// dbias in one pass (the unfused path reads dx again to sum the bias gradient).
torch::Tensor BiasGelu(const torch::Tensor& x, const torch::Tensor& bias);

}  // namespace roots
