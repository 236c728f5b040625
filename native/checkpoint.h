// Checkpoint files. Headers (safetensors JSON, the pickle inside a torch.save zip) are parsed and
// validated in TypeScript (lib/checkpoint/); this side moves bytes, with every offset and size checked against the file before any copy.
#pragma once
#include "common.h"

#include <map>

namespace roots {

struct TensorEntry {
  std::string target;        // where the data goes (a parameter name, or optim:<name>)
  std::string dtype;         // safetensors dtype: F32, F16, BF16, F64
  std::vector<int64_t> shape;
  int64_t begin = 0, end = 0;  // absolute byte offsets in the file
};

// Writes `tensors` (converted to float32, contiguous, on CPU) as a safetensors file at `path`.
void WriteSafetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata);

// Reads one entry of a safetensors file as a float32 CPU tensor of its shape.
torch::Tensor ReadSafetensorsEntry(std::ifstream& f, int64_t fileSize, const TensorEntry& e, const std::string& path);

}  // namespace roots
