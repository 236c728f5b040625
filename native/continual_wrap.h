// The JS edge of continual.h (continual_wrap.cc).
#pragma once
#include "continual.h"

namespace roots {

// model.continual(op, ...) for the synchronous ops.
Napi::Value ContinualCall(const Napi::CallbackInfo& info, Bert& m);
// trainStep's options.distill (token: a token head's [B, T, L] logits, else [B, L]) { logits: Float32Array[] (one per batch), labels, temperature, weight } into the batches.
void ReadDistill(Napi::Object options, std::vector<BatchTensors>& micro, bool token);

}  // namespace roots
