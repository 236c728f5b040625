// int8 inference on CPU: dynamic quantisation of the encoder's linear layers, as PyTorch's
// torch.ao.quantization.quantize_dynamic with per_channel_dynamic_qconfig does it. Weights are int8,
// one symmetric scale per output channel (PerChannelMinMaxObserver's qparams); activations are
// quantised to uint8 on the fly per call (quantized::linear_dynamic, reduce_range as PyTorch's
// module passes it); bias and everything outside the four linear layers of each encoder layer stay
// fp32. The kernels are those of the quantized engine this LibTorch has (x86 / fbgemm on 2.x wheels,
// oneDNN on Debian's 1.13, QNNPACK elsewhere). Inference only: a quantized model does not train.
// test/quantize.test.ts holds it to quantize_dynamic on the same weights (scripts/quantize_reference.py).
#pragma once
#include "adapters.h"
#include "checkpoint.h"
#include "common.h"

#include <ATen/core/ivalue.h>

#include <array>

namespace roots {

class Bert;

class QuantizedLinears {
 public:
  // One linear layer: int8 weight [out, in], fp32 scales [out] (zero points 0), the engine's packed
  // form (weight and fp32 bias) that quantized::linear_dynamic runs on.
  struct Module {
    torch::Tensor weight, scale;
    c10::IValue packed;
  };

  // The quantized engines this LibTorch has, preferred first ("x86", "fbgemm", "onednn", "qnnpack").
  static std::vector<std::string> Engines();

  // Quantises the model's current fp32 weights (its fp32 parameters are left as they are).
  static std::shared_ptr<QuantizedLinears> FromModel(const Bert& model, const std::string& engine);
  // int8 weights and scales read from a file, by Hugging Face module name (query, key, value kept
  // apart as in the file); every encoder linear layer must be there. The model's fp32 parameters of
  // those layers are set to the dequantised weights (what the int8 weights stand for).
  static std::shared_ptr<QuantizedLinears> FromInt8(Bert& model, const std::map<std::string, std::pair<torch::Tensor, torch::Tensor>>& modules,
                                                    const std::string& engine);

  // y = x W^T + b with W int8 and x quantised per call; x [..., in] fp32.
  torch::Tensor linear(const torch::Tensor& x, int64_t layer, Site s) const;
  const std::string& engine() const { return engine_; }
  int64_t numModules() const { return static_cast<int64_t>(layers_.size()) * 4; }
  // The tensors of a quantized checkpoint under Hugging Face's names: every fp32 parameter of the
  // model except the quantized weights, which come as int8 "<module>.weight" plus fp32 "<module>.weight_scale".
  std::vector<std::pair<std::string, torch::Tensor>> checkpointTensors(const Bert& model) const;

 private:
  QuantizedLinears(const Bert& model, std::string engine);
  void pack(int64_t layer, Site s, torch::Tensor weight, torch::Tensor scale);
  const Bert& model_;
  std::string engine_;
  std::vector<std::array<Module, 4>> layers_;
};

// model.quantize(op, ...) (quantize.cc): 'engines', 'info', 'off' run here; 'dynamic' and 'load' are jobs.
struct QuantizeLoadModule {
  std::string module;  // HF module name (bert.encoder.layer.0.attention.self.query)
  TensorEntry weight, scale;
};
// Reads the int8 modules of a checkpoint (file offsets checked), on the torch thread.
std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> ReadQuantizedModules(const std::string& path,
                                                                                     const std::vector<QuantizeLoadModule>& modules);

}  // namespace roots

namespace roots {
// The JS edge (quantize_wrap.cc; info() lists the engines). model.quantize(op, ...): 'info' ({ engine, modules } or null), 'off' (back to the fp32 products) answer at once; 'dynamic'
// (engine) and 'load' (path, modules[{ module, weight, scale }], engine) are read here and run as a
// job by model_wrap.cc.
struct QuantizeRequest {
  std::string op, engine, path;
  std::vector<QuantizeLoadModule> modules;
};
Napi::Value QuantizeCall(const Napi::CallbackInfo& info, Bert& m);
QuantizeRequest ReadQuantizeRequest(const Napi::CallbackInfo& info);
void RunQuantize(Bert& m, const QuantizeRequest& r);  // on the torch thread
Napi::Value QuantizeInfo(Napi::Env env, const Bert& m);
}  // namespace roots
