// Fused element-wise kernels (kernels.h): dropout + residual + LayerNorm, and the attention's
// scale + mask + softmax + dropout (bias + GELU is kernels_gelu.cc). Row loops as kernels_internal.h
// says; rows are split over LibTorch's intra-op threads with at::parallel_for.
#include "kernels.h"

#include "dropout.h"
#include "kernels_internal.h"

#include <torch/csrc/autograd/custom_function.h>

#include <limits>
#include <vector>

namespace roots {

bool FusedKernelsFromEnv() {
  const char* v = std::getenv("ROOTS_FUSED");
  if (!v || !*v || std::string(v) == "1") return true;
  if (std::string(v) == "0") return false;
  throw RootsException("ERR_CONFIG", std::string("ROOTS_FUSED=") + v + " (expected 1 or 0)");
}

namespace {

using namespace kernels;

// ---- dropout + residual + LayerNorm ------------------------------------------------------------

// Rows [r0, r1) of H: s = Round<TX>(x * keep * scale) + res; xhat = (s - mean) * rstd; y = xhat * w + b.
template <typename TX, typename TR, typename TO>
ROOTS_CLONES void LnForwardRows(const TX* __restrict__ x, const TR* __restrict__ res, const uint8_t* __restrict__ keep, float scale,
                                const float* __restrict__ w, const float* __restrict__ b, float eps, int64_t H, int64_t r0, int64_t r1,
                                float* __restrict__ xhat, float* __restrict__ rstdOut, TO* __restrict__ y) {
  for (int64_t r = r0; r < r1; r++) {
    const TX* xr = x + r * H;
    const TR* rr = res + r * H;
    float* s = xhat + r * H;
    if (keep) {
      const uint8_t* k = keep + r * H;
      for (int64_t j = 0; j < H; j++) s[j] = Round<TX>(Load(xr, j) * (k[j] ? scale : 0.0f)) + Load(rr, j);
    } else {
      for (int64_t j = 0; j < H; j++) s[j] = Load(xr, j) + Load(rr, j);
    }
    float acc[16] = {0};
    int64_t j = 0;
    for (; j + 16 <= H; j += 16)
      for (int k = 0; k < 16; k++) acc[k] += s[j + k];
    float sum = 0;
    for (; j < H; j++) sum += s[j];
    for (int k = 0; k < 16; k++) sum += acc[k];
    const float mean = sum / static_cast<float>(H);
    float acc2[16] = {0};
    for (j = 0; j + 16 <= H; j += 16)
      for (int k = 0; k < 16; k++) { const float d = s[j + k] - mean; acc2[k] += d * d; }
    float var = 0;
    for (; j < H; j++) { const float d = s[j] - mean; var += d * d; }
    for (int k = 0; k < 16; k++) var += acc2[k];
    const float rstd = 1.0f / std::sqrt(var / static_cast<float>(H) + eps);
    rstdOut[r] = rstd;
    TO* yr = y + r * H;
    for (j = 0; j < H; j++) {
      const float xh = (s[j] - mean) * rstd;
      s[j] = xh;
      StoreAt(yr, j, xh * w[j] + b[j]);
    }
  }
}

// Rows [r0, r1): g = dy * w; ds = rstd * (g - mean(g) - xhat * mean(g * xhat)); dres = ds;
// dx = ds * keep * scale; dw += dy * xhat and db += dy into this task's partial sums.
template <typename TO, typename TX, typename TR>
ROOTS_CLONES void LnBackwardRows(const TO* __restrict__ dy, const float* __restrict__ xhat, const float* __restrict__ rstd,
                                 const uint8_t* __restrict__ keep, float scale, const float* __restrict__ w, int64_t H, int64_t r0,
                                 int64_t r1, TX* __restrict__ dx, TR* __restrict__ dres, float* __restrict__ dw, float* __restrict__ db) {
  for (int64_t r = r0; r < r1; r++) {
    const TO* g = dy + r * H;
    const float* xh = xhat + r * H;
    float a1[16] = {0}, a2[16] = {0};
    int64_t j = 0;
    for (; j + 16 <= H; j += 16)
      for (int k = 0; k < 16; k++) {
        const float gw = Load(g, j + k) * w[j + k];
        a1[k] += gw;
        a2[k] += gw * xh[j + k];
      }
    float c1 = 0, c2 = 0;
    for (; j < H; j++) { const float gw = Load(g, j) * w[j]; c1 += gw; c2 += gw * xh[j]; }
    for (int k = 0; k < 16; k++) { c1 += a1[k]; c2 += a2[k]; }
    c1 /= static_cast<float>(H);
    c2 /= static_cast<float>(H);
    const float rs = rstd[r];
    TX* dxr = dx + r * H;
    TR* drr = dres + r * H;
    const uint8_t* k = keep ? keep + r * H : nullptr;
    // Two loops, not one with `k ? :` inside: that conditional kept the loop from vectorising.
    if (k) {
      for (j = 0; j < H; j++) {
        const float gy = Load(g, j);
        const float ds = rs * (gy * w[j] - c1 - xh[j] * c2);
        StoreAt(drr, j, ds);
        StoreAt(dxr, j, Round<TX>(ds) * (k[j] ? scale : 0.0f));
        dw[j] += gy * xh[j];
        db[j] += gy;
      }
    } else {
      for (j = 0; j < H; j++) {
        const float gy = Load(g, j);
        const float ds = rs * (gy * w[j] - c1 - xh[j] * c2);
        StoreAt(drr, j, ds);
        StoreAt(dxr, j, ds);
        dw[j] += gy * xh[j];
        db[j] += gy;
      }
    }
  }
}

template <typename F>
void DispatchLn(torch::ScalarType tx, torch::ScalarType tr, F&& f) {
  using torch::kBFloat16;
  using torch::kFloat32;
  if (tx == kFloat32 && tr == kFloat32) f(float(), float(), float());
  else if (tx == kBFloat16 && tr == kFloat32) f(BF16(), float(), float());
  else if (tx == kFloat32 && tr == kBFloat16) f(float(), BF16(), float());
  else f(BF16(), BF16(), BF16());
}

struct DropoutAddLayerNormFn : public torch::autograd::Function<DropoutAddLayerNormFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x0, const torch::Tensor& res0,
                               const torch::Tensor& w0, const torch::Tensor& b0, double eps, double p, int64_t seed) {
    auto x = Contig(x0), res = Contig(res0), w = Contig(w0), b = Contig(b0);
    const int64_t H = x.size(-1), N = x.numel() / H;
    const auto outType = at::promote_types(x.scalar_type(), res.scalar_type());
    auto y = torch::empty(x.sizes(), x.options().dtype(outType));
    auto xhat = torch::empty({N, H}, x.options().dtype(torch::kFloat32));
    auto rstd = torch::empty({N}, x.options().dtype(torch::kFloat32));
    torch::Tensor keep;
    if (p > 0) {
      keep = torch::empty(x.sizes(), x.options().dtype(torch::kUInt8));
      FillDropoutMask(keep.data_ptr<uint8_t>(), keep.numel(), p, static_cast<uint64_t>(seed));
    }
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    DispatchLn(x.scalar_type(), res.scalar_type(), [&](auto tx, auto tr, auto to) {
      using TX = decltype(tx);
      using TR = decltype(tr);
      using TO = decltype(to);
      const TX* xp = static_cast<const TX*>(x.data_ptr());
      const TR* rp = static_cast<const TR*>(res.data_ptr());
      const uint8_t* kp = keep.defined() ? keep.data_ptr<uint8_t>() : nullptr;
      at::parallel_for(0, N, Grain(H), [&](int64_t r0, int64_t r1) {
        LnForwardRows<TX, TR, TO>(xp, rp, kp, scale, w.data_ptr<float>(), b.data_ptr<float>(), static_cast<float>(eps), H, r0, r1,
                                  xhat.data_ptr<float>(), rstd.data_ptr<float>(), static_cast<TO*>(y.data_ptr()));
      });
    });
    ctx->save_for_backward({xhat, rstd, w, keep});
    ctx->saved_data["scale"] = static_cast<double>(scale);
    ctx->saved_data["x_type"] = static_cast<int64_t>(x.scalar_type());
    ctx->saved_data["r_type"] = static_cast<int64_t>(res.scalar_type());
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &xhat = saved[0], &rstd = saved[1], &w = saved[2], &keep = saved[3];
    const float scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    const auto tx = static_cast<torch::ScalarType>(ctx->saved_data["x_type"].toInt());
    const auto tr = static_cast<torch::ScalarType>(ctx->saved_data["r_type"].toInt());
    const int64_t N = xhat.size(0), H = xhat.size(1);
    const auto outType = at::promote_types(tx, tr);
    auto dy = Contig(grads[0].to(outType));
    auto dx = torch::empty(dy.sizes(), dy.options().dtype(tx));
    auto dres = torch::empty(dy.sizes(), dy.options().dtype(tr));
    const int nt = at::get_num_threads();
    auto partial = torch::zeros({nt, 2, H}, xhat.options());
    DispatchLn(tx, tr, [&](auto tx_, auto tr_, auto to_) {
      using TX = decltype(tx_);
      using TR = decltype(tr_);
      using TO = decltype(to_);
      const uint8_t* kp = keep.defined() ? keep.data_ptr<uint8_t>() : nullptr;
      at::parallel_for(0, N, Grain(H), [&](int64_t r0, int64_t r1) {
        float* part = partial.data_ptr<float>() + static_cast<int64_t>(at::get_thread_num()) * 2 * H;
        LnBackwardRows<TO, TX, TR>(static_cast<const TO*>(dy.data_ptr()), xhat.data_ptr<float>(), rstd.data_ptr<float>(), kp, scale,
                                   w.data_ptr<float>(), H, r0, r1, static_cast<TX*>(dx.data_ptr()), static_cast<TR*>(dres.data_ptr()),
                                   part, part + H);
      });
    });
    auto sums = partial.sum(0);
    return {dx, dres, sums[0], sums[1], torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// ---- scale + mask + softmax + dropout ------------------------------------------------------------

// Rows [r0, r1) of L (rows of one batch element are consecutive, rowsPerBatch of them):
// v = Round<TS>(s * scale) + mask; p = softmax(v); out = p * keep * dscale.
template <typename TS, typename TO>
ROOTS_CLONES void SoftmaxForwardRows(const TS* __restrict__ s, float scale, const float* __restrict__ mask, int64_t rowsPerBatch,
                                     const uint8_t* __restrict__ keep, float dscale, int64_t L, int64_t r0, int64_t r1,
                                     float* __restrict__ probs, TO* __restrict__ out) {
  for (int64_t r = r0; r < r1; r++) {
    const TS* sr = s + r * L;
    const float* m = mask ? mask + (r / rowsPerBatch) * L : nullptr;
    float* p = probs + r * L;
    if (m) for (int64_t j = 0; j < L; j++) p[j] = Round<TS>(Load(sr, j) * scale) + m[j];
    else for (int64_t j = 0; j < L; j++) p[j] = Round<TS>(Load(sr, j) * scale);
    float mxs[16];
    for (int k = 0; k < 16; k++) mxs[k] = -std::numeric_limits<float>::infinity();
    int64_t j = 0;
    for (; j + 16 <= L; j += 16)
      for (int k = 0; k < 16; k++) mxs[k] = p[j + k] > mxs[k] ? p[j + k] : mxs[k];
    float mx = -std::numeric_limits<float>::infinity();
    for (; j < L; j++) mx = p[j] > mx ? p[j] : mx;
    for (int k = 0; k < 16; k++) mx = mxs[k] > mx ? mxs[k] : mx;
    float acc[16] = {0};
    j = 0;
    for (; j + 16 <= L; j += 16)
      for (int k = 0; k < 16; k++) { const float e = ExpNeg(p[j + k] - mx); p[j + k] = e; acc[k] += e; }
    float sum = 0;
    for (; j < L; j++) { const float e = ExpNeg(p[j] - mx); p[j] = e; sum += e; }
    for (int k = 0; k < 16; k++) sum += acc[k];
    const float inv = 1.0f / sum;
    TO* o = out + r * L;
    const uint8_t* k = keep ? keep + r * L : nullptr;
    for (j = 0; j < L; j++) p[j] *= inv;
    if (k) for (j = 0; j < L; j++) StoreAt(o, j, Round<TO>(p[j]) * (k[j] ? dscale : 0.0f));
    else for (j = 0; j < L; j++) StoreAt(o, j, p[j]);
  }
}

// Rows [r0, r1): dp = dout * keep * dscale; ds = Round<TS>(p * (dp - sum(dp * p)) * scale).
template <typename TO, typename TS>
ROOTS_CLONES void SoftmaxBackwardRows(const TO* __restrict__ dout, const float* __restrict__ probs, const uint8_t* __restrict__ keep,
                                      float dscale, float scale, int64_t L, int64_t r0, int64_t r1, TS* __restrict__ ds) {
  std::vector<float> dp(static_cast<size_t>(L));  // dout after dropout, as float (loops without `k ? :` vectorise)
  for (int64_t r = r0; r < r1; r++) {
    const TO* g = dout + r * L;
    const float* p = probs + r * L;
    const uint8_t* k = keep ? keep + r * L : nullptr;
    TS* d = ds + r * L;
    if (k) for (int64_t j = 0; j < L; j++) dp[j] = Round<TO>(Load(g, j) * (k[j] ? dscale : 0.0f));
    else for (int64_t j = 0; j < L; j++) dp[j] = Load(g, j);
    float acc[16] = {0};
    int64_t j = 0;
    for (; j + 16 <= L; j += 16)
      for (int q = 0; q < 16; q++) acc[q] += dp[j + q] * p[j + q];
    float dot = 0;
    for (; j < L; j++) dot += dp[j] * p[j];
    for (int q = 0; q < 16; q++) dot += acc[q];
    for (j = 0; j < L; j++) StoreAt(d, j, Round<TS>(p[j] * (dp[j] - dot)) * scale);
  }
}

template <typename F>
void DispatchSoftmax(torch::ScalarType ts, torch::ScalarType to, F&& f) {
  if (ts == torch::kFloat32) f(float(), float());
  else if (to == torch::kFloat32) f(BF16(), float());
  else f(BF16(), BF16());
}

struct ScaledMaskedSoftmaxDropoutFn : public torch::autograd::Function<ScaledMaskedSoftmaxDropoutFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& s0, double scale, const torch::Tensor& mask0,
                               double p, int64_t seed) {
    auto s = Contig(s0);
    const int64_t L = s.size(-1), N = s.numel() / L, B = s.size(0), rowsPerBatch = N / B;
    torch::Tensor mask = mask0.defined() ? Contig(mask0.to(torch::kFloat32)) : mask0;
    const auto outType = mask.defined() ? torch::kFloat32 : s.scalar_type();
    auto out = torch::empty(s.sizes(), s.options().dtype(outType));
    auto probs = torch::empty(s.sizes(), s.options().dtype(torch::kFloat32));
    torch::Tensor keep;
    if (p > 0) {
      keep = torch::empty(s.sizes(), s.options().dtype(torch::kUInt8));
      FillDropoutMask(keep.data_ptr<uint8_t>(), keep.numel(), p, static_cast<uint64_t>(seed));
    }
    const float dscale = static_cast<float>(1.0 / (1.0 - p));
    DispatchSoftmax(s.scalar_type(), outType, [&](auto ts, auto to) {
      using TS = decltype(ts);
      using TO = decltype(to);
      const uint8_t* kp = keep.defined() ? keep.data_ptr<uint8_t>() : nullptr;
      const float* mp = mask.defined() ? mask.data_ptr<float>() : nullptr;
      at::parallel_for(0, N, Grain(L), [&](int64_t r0, int64_t r1) {
        SoftmaxForwardRows<TS, TO>(static_cast<const TS*>(s.data_ptr()), static_cast<float>(scale), mp, rowsPerBatch, kp, dscale, L, r0, r1,
                                   probs.data_ptr<float>(), static_cast<TO*>(out.data_ptr()));
      });
    });
    ctx->save_for_backward({probs, keep});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["dscale"] = static_cast<double>(dscale);
    ctx->saved_data["s_type"] = static_cast<int64_t>(s.scalar_type());
    ctx->saved_data["o_type"] = static_cast<int64_t>(outType);
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &probs = saved[0], &keep = saved[1];
    const float scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    const float dscale = static_cast<float>(ctx->saved_data["dscale"].toDouble());
    const auto ts = static_cast<torch::ScalarType>(ctx->saved_data["s_type"].toInt());
    const auto to = static_cast<torch::ScalarType>(ctx->saved_data["o_type"].toInt());
    auto g = Contig(grads[0].to(to));
    const int64_t L = probs.size(-1), N = probs.numel() / L;
    auto ds = torch::empty(probs.sizes(), probs.options().dtype(ts));
    DispatchSoftmax(ts, to, [&](auto ts_, auto to_) {
      using TS = decltype(ts_);
      using TO = decltype(to_);
      const uint8_t* kp = keep.defined() ? keep.data_ptr<uint8_t>() : nullptr;
      at::parallel_for(0, N, Grain(L), [&](int64_t r0, int64_t r1) {
        SoftmaxBackwardRows<TO, TS>(static_cast<const TO*>(g.data_ptr()), probs.data_ptr<float>(), kp, dscale, scale, L, r0, r1,
                                    static_cast<TS*>(ds.data_ptr()));
      });
    });
    return {ds, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor DropoutAddLayerNorm(const torch::Tensor& x, const torch::Tensor& residual, const torch::Tensor& weight,
                                  const torch::Tensor& bias, double eps, double p, uint64_t seed) {
  const bool ok = Supported(x) && Supported(residual) && x.sizes() == residual.sizes() && weight.scalar_type() == torch::kFloat32 &&
                  bias.scalar_type() == torch::kFloat32 && p < 1 && x.numel() > 0;
  if (!ok) {
    const auto d = p > 0 ? FastDropout(x, p, seed) : x;
    return at::layer_norm(d + residual, {x.size(-1)}, weight, bias, eps);
  }
  return DropoutAddLayerNormFn::apply(x, residual, weight, bias, eps, p, static_cast<int64_t>(seed & 0x7fffffffffffffffULL));
}

torch::Tensor ScaledMaskedSoftmaxDropout(const torch::Tensor& scores, double scale, const torch::Tensor& keyMask, double p, uint64_t seed) {
  const bool ok = Supported(scores) && scores.dim() == 4 && p < 1 && scores.numel() > 0 &&
                  (!keyMask.defined() || (keyMask.scalar_type() == torch::kFloat32 && keyMask.numel() == scores.size(0) * scores.size(-1)));
  if (!ok) {
    const int64_t B = scores.size(0), L = scores.size(-1);
    auto v = scores * scale;
    auto probs = at::softmax(keyMask.defined() ? v + keyMask.view({B, 1, 1, L}) : v, -1);
    return p > 0 ? FastDropout(probs, p, seed) : probs;
  }
  return ScaledMaskedSoftmaxDropoutFn::apply(scores, scale, keyMask, p, static_cast<int64_t>(seed & 0x7fffffffffffffffULL));
}

}  // namespace roots
