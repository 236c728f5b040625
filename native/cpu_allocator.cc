// A caching CPU allocator for LibTorch tensors (installed at module init; ROOTS_CPU_ALLOCATOR=system
// turns it off). Why: glibc hands large blocks to worker threads from per-thread arenas with a
// dynamic mmap threshold; training on batches whose padded length changes every step made those
// arenas fragment and grow without bound (RSS 0.45 -> 2.5 GB in 80 steps, then std::bad_alloc in
// real CoNLL-2003 runs), while a fixed low threshold returns every block to the OS and pays page
// faults again each step (a ~40% slower step measured here). This allocator keeps freed blocks of
// 64 KiB and up in size classes (1/8-power-of-two steps, so at most 12.5% slack) and hands them
// back to later allocations of the same class: no page faults after the first steps, and memory
// bounded by a cap on cached bytes (ROOTS_CPU_CACHE_MB, default 1024): beyond it the blocks freed
// longest ago go back to the OS.
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

  c10::DataPtr allocate(size_t n) const override {
    auto* self = const_cast<CachingCpuAllocator*>(this);
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
  // Large blocks that are not tensors (oneDNN scratch space and weight reorders) come from malloc
  // too; a fixed mmap threshold (which turns off glibc's dynamic one) sends them to mmap and back
  // to the OS on free, instead of fragmenting the worker threads' arenas. Tensors do not pay the
  // page faults: they are served from the cache below.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  // Priority above the default CPU allocator's registration.
  c10::SetAllocator(c10::DeviceType::CPU, &CachingCpuAllocator::Instance(), /*priority=*/10);
}

size_t CpuAllocatorCachedBytes() { return CachingCpuAllocator::Instance().cachedBytes(); }

}  // namespace roots
