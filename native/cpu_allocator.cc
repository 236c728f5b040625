// A caching CPU allocator for LibTorch tensors (installed at module init; ROOTS_CPU_ALLOCATOR=system
// turns it off). Why: every training step allocates and frees the same large activation and
// gradient tensors; glibc returns many of them to the OS and page-faults them in again the next
// step (this VM is slow to hand out fresh pages), and with a padded length that changes every
// batch its arenas also keep growing. This allocator keeps freed blocks of 64 KiB and up in size
// classes (1/8-power-of-two steps, so at most 12.5% slack) and hands them to later allocations of
// the same class, with a cap on cached bytes (ROOTS_CPU_CACHE_MB, default 1024) beyond which the
// blocks freed longest ago go back to the OS. Measured (bench/train-step): fp32 step 750 -> 690 ms.
#include "common.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <list>
#include <mutex>
#include <unordered_map>

namespace roots {

namespace {

constexpr size_t kMinCached = 64 * 1024;
constexpr size_t kAlign = 64;

size_t SizeClass(size_t n) {
  if (n < kMinCached) return (n + kAlign - 1) / kAlign * kAlign;
  size_t p = 1;
  while ((p << 1) <= n) p <<= 1;           // p = highest power of two <= n
  const size_t step = p / 8;
  return (n + step - 1) / step * step;
}

// A cached block: `ptr` is the start of the malloc'd region; its first kAlign bytes hold the size,
// and tensors get ptr + kAlign (so context == data, as raw_allocate() requires).
struct Block { void* ptr; size_t size; };

class CachingCpuAllocator final : public c10::Allocator {
 public:
  CachingCpuAllocator() {
    size_t mb = 1024;
    if (const char* s = std::getenv("ROOTS_CPU_CACHE_MB")) mb = static_cast<size_t>(std::atoll(s));
    cap_ = mb * 1024 * 1024;
  }

  // LibTorch 2.3 made allocate() non-const and added copy_data() (pure virtual); 1.13 has neither.
#if ROOTS_TORCH_AT_LEAST(2, 3)
  c10::DataPtr allocate(size_t n) override {
    auto* self = this;
#else
  c10::DataPtr allocate(size_t n) const override {
    auto* self = const_cast<CachingCpuAllocator*>(this);
#endif
    size_t size = SizeClass(n == 0 ? 1 : n);
    void* p = self->take(size);
    if (!p) {
      int rc = posix_memalign(&p, kAlign, size + kAlign);
      if (rc != 0 || !p)
        throw RootsException("ERR_NATIVE", "out of memory: could not allocate " + std::to_string(n) + " bytes for a tensor (" +
                                               std::string(std::strerror(rc)) + ")");
    }
    *static_cast<size_t*>(p) = size;
    void* data = static_cast<char*>(p) + kAlign;
    return {data, data, &CachingCpuAllocator::Delete, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &CachingCpuAllocator::Delete; }

#if ROOTS_TORCH_AT_LEAST(2, 3)
  // Plain host memory on both sides: a memcpy (what c10's default_copy_data does).
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#endif

  static void Delete(void* data) {
    if (!data) return;
    void* p = static_cast<char*>(data) - kAlign;
    Instance().give(p, *static_cast<size_t*>(p));
  }

  static CachingCpuAllocator& Instance() {
    static CachingCpuAllocator* a = new CachingCpuAllocator();  // never destroyed: tensors may outlive statics
    return *a;
  }

  size_t cachedBytes() {
    std::lock_guard<std::mutex> g(mu_);
    return cached_;
  }

 private:
  void* take(size_t size) {
    if (size < kMinCached) return nullptr;
    std::lock_guard<std::mutex> g(mu_);
    auto it = byClass_.find(size);
    if (it == byClass_.end() || it->second.empty()) return nullptr;
    auto li = it->second.back();
    it->second.pop_back();
    void* p = li->ptr;
    cached_ -= li->size;
    fifo_.erase(li);
    return p;
  }

  void give(void* p, size_t size) {
    if (size < kMinCached || cap_ == 0) { std::free(p); return; }
    std::vector<void*> release;
    {
      std::lock_guard<std::mutex> g(mu_);
      fifo_.push_back({p, size});
      byClass_[size].push_back(std::prev(fifo_.end()));
      cached_ += size;
      while (cached_ > cap_ && !fifo_.empty()) {
        auto oldest = fifo_.begin();
        auto& vec = byClass_[oldest->size];
        for (auto v = vec.begin(); v != vec.end(); ++v)
          if (*v == oldest) { vec.erase(v); break; }
        cached_ -= oldest->size;
        release.push_back(oldest->ptr);
        fifo_.erase(oldest);
      }
    }
    for (void* r : release) std::free(r);
  }

  std::mutex mu_;
  std::list<Block> fifo_;                                            // cached blocks, oldest first
  std::unordered_map<size_t, std::vector<std::list<Block>::iterator>> byClass_;
  size_t cached_ = 0;
  size_t cap_ = 0;
};

}  // namespace

void InstallCpuAllocator() {
  const char* mode = std::getenv("ROOTS_CPU_ALLOCATOR");
  if (mode && std::string(mode) == "system") return;
  // ROOTS_MMAP_THRESHOLD=<bytes> fixes glibc's mmap threshold (turning off its dynamic one), so large
  // blocks that are not tensors (oneDNN scratch space, weight reorders) go back to the OS on free.
  // Off by default: with all LibTorch work on one thread, memory levels off without it (bf16 ~2.2 GB,
  // fp32 ~2.9 GB over 300 steps of random lengths, H=256 L=4 batch 32), and the page faults it
  // brings back cost fp32 steps ~20% here.
  long threshold = 0;
  if (const char* t = std::getenv("ROOTS_MMAP_THRESHOLD")) threshold = std::atol(t);
  if (threshold > 0) mallopt(M_MMAP_THRESHOLD, static_cast<int>(threshold));
  // Priority above the default CPU allocator's registration.
  c10::SetAllocator(c10::DeviceType::CPU, &CachingCpuAllocator::Instance(), /*priority=*/10);
}

size_t CpuAllocatorCachedBytes() { return CachingCpuAllocator::Instance().cachedBytes(); }

}  // namespace roots
