#include "checkpoint.h"

#include <fstream>
#include <sstream>

namespace roots {

namespace {
std::string JsonEscape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    switch (ch) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", ch);
          o += buf;
        } else {
          o += ch;
        }
    }
  }
  return o;
}
}  // namespace

void WriteSafetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> data;
  std::ostringstream h;
  h << "{\"__metadata__\":{";
  bool first = true;
  for (const auto& [k, v] : metadata) {
    h << (first ? "" : ",") << "\"" << JsonEscape(k) << "\":\"" << JsonEscape(v) << "\"";
    first = false;
  }
  h << "}";
  int64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    // int8 stays int8 (a quantized checkpoint's weights, native/quantize.h); the rest is written as float32.
    const bool i8 = t.scalar_type() == torch::kInt8;
    auto c = t.detach().to(torch::kCPU, i8 ? torch::kInt8 : torch::kFloat32).contiguous();
    int64_t bytes = c.numel() * c.element_size();
    h << ",\"" << JsonEscape(name) << "\":{\"dtype\":\"" << (i8 ? "I8" : "F32") << "\",\"shape\":[";
    for (int64_t i = 0; i < c.dim(); i++) h << (i ? "," : "") << c.size(i);
    h << "],\"data_offsets\":[" << offset << "," << offset + bytes << "]}";
    offset += bytes;
    data.push_back(c);
  }
  h << "}";
  std::string header = h.str();
  while (header.size() % 8 != 0) header += ' ';  // align the data to 8 bytes, as safetensors does
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw RootsException("ERR_IO", "cannot open " + path + " for writing");
  uint64_t n = header.size();
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);  // little-endian
  f.write(reinterpret_cast<const char*>(len), 8);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto& c : data) f.write(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  f.flush();
  if (!f) throw RootsException("ERR_IO", "writing " + path + " failed (disk full?)");
}

torch::Tensor ReadSafetensorsEntry(std::ifstream& f, int64_t fileSize, const TensorEntry& e, const std::string& path) {
  int64_t elem = 0;
  torch::ScalarType type;
  if (e.dtype == "F32") { elem = 4; type = torch::kFloat32; }
  else if (e.dtype == "F16") { elem = 2; type = torch::kFloat16; }
  else if (e.dtype == "BF16") { elem = 2; type = torch::kBFloat16; }
  else if (e.dtype == "F64") { elem = 8; type = torch::kFloat64; }
  else if (e.dtype == "I64") { elem = 8; type = torch::kInt64; }
  else if (e.dtype == "I8") { elem = 1; type = torch::kInt8; }  // a quantized checkpoint's weights (quantize.h)
  else throw RootsException("ERR_CHECKPOINT", path + ": tensor " + e.target + " has dtype " + e.dtype + " (expected F32, F16, BF16 or F64)");
  int64_t numel = 1;
  for (auto d : e.shape) numel *= d;
  if (e.end - e.begin != numel * elem || e.begin < 0 || e.end > fileSize)
    throw RootsException("ERR_CHECKPOINT", path + ": tensor " + e.target + " has byte range [" + std::to_string(e.begin) +
                                               ", " + std::to_string(e.end) + ") that does not fit its shape or the file (" +
                                               std::to_string(fileSize) + " bytes)");
  auto t = torch::empty(e.shape, torch::TensorOptions().dtype(type));
  f.seekg(e.begin);
  f.read(static_cast<char*>(t.data_ptr()), e.end - e.begin);
  if (!f) throw RootsException("ERR_CHECKPOINT", path + ": could not read tensor " + e.target + " (file truncated?)");
  return t.to(torch::kFloat32);
}

}  // namespace roots
