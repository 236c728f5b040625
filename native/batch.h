// A JS Batch (lib/batch.ts, read under its own field names) into tensors: checked and copied on the
// JS thread, moved to the model's device on the torch thread.
#pragma once
#include "bert.h"

namespace roots {

// Reads the Batch `value` (named `where` in messages: "batch", "batches[1]") for a model of config
// `c`. Every id, mask, segment and target is checked against the config here, where the batch
// enters: a bad batch is ERR_INVALID_ARG naming the field and index, never a crash. `needTargets`:
// a training step (the head's targets are required).
BatchTensors ReadBatch(Napi::Env env, const Napi::Value& value, const std::string& where, const BertConfig& c,
                       bool needTargets);

// On the torch thread: integer tensors to int64 on `device` (off the CPU in one pinned copy).
void ToDevice(BatchTensors& b, torch::Device device);

}  // namespace roots
