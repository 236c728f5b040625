// Internal to distributed.cc and distributed_wrap.cc, the two files that parse c10d's and Gloo's
// headers: the process group (DistGroup, the payload of the JS ProcessGroup) and the gradient
// reducer's factory. Everything else sees distributed.h only.
#pragma once
#include "distributed.h"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>

// Set by CMakeLists.txt where Gloo's headers (libgloo-dev) and NCCL are found.
#ifndef ROOTS_WITH_C10D
#define ROOTS_WITH_C10D 0
#endif
#ifndef ROOTS_WITH_NCCL
#define ROOTS_WITH_NCCL 0
#endif

#if ROOTS_WITH_C10D
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if ROOTS_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace roots {


using Millis = std::chrono::milliseconds;

#if ROOTS_WITH_C10D
// 2.x split the collectives into c10d::Backend (ProcessGroupGloo is one); 1.13's groups are ProcessGroups.
#if ROOTS_TORCH_AT_LEAST(2, 0)
using C10dGroup = c10d::Backend;
#else
using C10dGroup = c10d::ProcessGroup;
#endif
#endif

inline std::string Seconds(Millis t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(t.count()) / 1000.0);
  return buf;
}


// A connected (or not yet connected) process group: the payload of the JS ProcessGroup.
struct DistGroup {
  int rank = 0, world = 1;
  std::string addr, backend;
  int port = 0;
  Millis timeout{0};
  torch::Device device{torch::kCPU};
  bool connected = false;
#if ROOTS_WITH_C10D
  c10::intrusive_ptr<c10d::Store> store;  // roots' own keys (the config and data hash)
  c10::intrusive_ptr<C10dGroup> pg;
#endif

  std::string who() const { return "rank " + std::to_string(rank) + " of " + std::to_string(world); }

  [[noreturn]] void fail(const std::string& what, const std::exception& e) const {
    std::string msg = e.what();
    if (auto* c = dynamic_cast<const c10::Error*>(&e)) msg = c->what_without_backtrace();
    auto nl = msg.find('\n');
    if (nl != std::string::npos) msg = msg.substr(0, nl);
    throw RootsException("ERR_DISTRIBUTED", who() + ": " + what + " failed: " + msg + ". Another rank died or stalled " +
                         "(a dead rank ends the others' collectives at once, a stalled one after the timeout of " +
                         Seconds(timeout) + " s: --dist-timeout / ROOTS_DIST_TIMEOUT)");
  }

#if ROOTS_WITH_C10D
  void connect();
  void wait(const c10::intrusive_ptr<c10d::Work>& w, const char* what) const {
    try {
      if (!w->wait(timeout)) throw std::runtime_error("no result");
    } catch (const RootsException&) {
      throw;
    } catch (const std::exception& e) {
      fail(what, e);
    }
  }
  // In-place sum over the ranks.
  void allreduce(torch::Tensor t, const char* what) const {
    std::vector<at::Tensor> v{std::move(t)};
    c10::intrusive_ptr<c10d::Work> w;
    try {
      w = pg->allreduce(v);
    } catch (const std::exception& e) {
      fail(what, e);
    }
    wait(w, what);
  }
#endif
};

#if ROOTS_WITH_C10D
// The gradient all-reduce of a model in `group` (distributed.cc's GradReducer): bucketBytes per bucket,
// started during the last backward pass where the hooks allow (`overlap`).
std::shared_ptr<GradSync> MakeGradReducer(std::shared_ptr<DistGroup> group, int64_t bucketBytes, bool overlap);
#endif
// What model.distributed('info') reports of a model's GradSync; nullopt when it has none of ours.
struct ReducerInfo { int64_t buckets = 0, bucketBytes = 0, duringBackward = 0; bool hooks = false; };
std::optional<ReducerInfo> DescribeReducer(const GradSync* sync);

}  // namespace roots
