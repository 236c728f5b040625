// Data parallelism on LibTorch's c10d (see distributed.h). What runs where:
//   ProcessGroup (JS object): a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT (rank 0 serves it),
//     then c10d's ProcessGroupGloo over it (CPU), or ProcessGroupNCCL where this LibTorch has CUDA and
//     NCCL. Every collective waits at most the group's timeout: a rank that died ends its peers'
//     collectives at once (Gloo sees the closed connection), one that stalls ends them after it.
//   GradReducer (a model's GradSync): buckets over the flat gradient buffers (adamw.h's ParamGroup),
//     each a contiguous range of whole trainable parameters, in backward order. On the step's last
//     micro-batch a post-hook on each parameter's gradient accumulator counts the bucket down, and a
//     full bucket starts its all-reduce while the backward pass goes on (DDP's reducer does the same);
//     buckets start strictly in order, so every rank issues the same collectives in the same order.
//     Where the hooks cannot see the buffers (an adapter trains: its own groups), buckets over the
//     trainable runs start after backward.
#include "distributed_c10d.h"

#include "bert.h"

namespace roots {

#if ROOTS_WITH_C10D
namespace {

bool IsLoopback(const std::string& a) { return a == "localhost" || a.rfind("127.", 0) == 0 || a == "::1"; }

// Gloo's transport device: GLOO_SOCKET_IFNAME's interface (as PyTorch reads it), loopback when the
// master is on this machine's loopback, else the address this machine's hostname resolves to.
std::shared_ptr<::gloo::transport::Device> GlooDevice(const std::string& masterAddr) {
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname && *ifname) return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (IsLoopback(masterAddr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

void DistGroup::connect() {
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(port);
  o.isServer = rank == 0;
  o.numWorkers = static_cast<std::size_t>(world);
  o.waitWorkers = true;
  o.timeout = timeout;
  const std::string at = "MASTER_ADDR=" + addr + " MASTER_PORT=" + std::to_string(port);
  try {
    store = c10::make_intrusive<c10d::TCPStore>(addr, o);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto* c = dynamic_cast<const c10::Error*>(&e)) msg = c->what_without_backtrace();
    msg = msg.substr(0, msg.find('\n'));
    throw RootsException("ERR_DISTRIBUTED", who() + ": the rendezvous at " + at + " did not complete within " + Seconds(timeout) +
                         " s (" + msg + "). " +
                         (rank == 0 ? "Rank 0 serves it: is the port free, and did all " + std::to_string(world) + " ranks start (WORLD_SIZE)?"
                                    : "Is rank 0 running, and is " + addr + ":" + std::to_string(port) + " reachable from this machine?") +
                         " (--dist-timeout / ROOTS_DIST_TIMEOUT sets the wait)");
  }
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("roots/" + backend, store);
  try {
    if (backend == "gloo") {
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      opts->devices.push_back(GlooDevice(addr));
      pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, rank, world, opts);
    } else {
#if ROOTS_WITH_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, rank, world, opts);
#else
      throw RootsException("ERR_UNSUPPORTED", "backend 'nccl' needs an addon built against a LibTorch with CUDA and NCCL; use 'gloo'");
#endif
    }
  } catch (const RootsException&) {
    throw;
  } catch (const std::exception& e) {
    fail("connecting the " + backend + " process group at " + at, e);
  }
  connected = true;
}

// The gradient all-reduce of one model (see the file comment).
class GradReducer : public GradSync, public std::enable_shared_from_this<GradReducer> {
 public:
  GradReducer(std::shared_ptr<DistGroup> group, int64_t bucketBytes, bool overlap)
      : group_(std::move(group)), cap_(std::max<int64_t>(1, bucketBytes / 4)), overlap_(overlap) {}

  void beforeLastBackward(Bert& m, std::vector<ParamGroup>& groups) override {
    layout(m, groups);
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& b : buckets_) {
      b.pending = b.leaves;
      b.work.reset();
    }
    next_ = 0;
    early_ = 0;
    armed_ = overlap_ && hooked_;
  }

  void finish(std::vector<ParamGroup>& groups, torch::Tensor& loss, int64_t& tokens) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      armed_ = false;
      while (next_ < buckets_.size()) launch(next_++);
    }
    const double world = group_->world;
    for (auto& b : buckets_) {
      group_->wait(b.work, "the gradient all-reduce");
      b.work.reset();
      grads_[b.group].narrow(0, b.offset, b.numel).div_(world);
    }
    // (loss, tokens) summed in one small collective; the loss then averaged like the gradients.
    auto stats = torch::stack({loss.detach().reshape({}).to(torch::kFloat64),
                               torch::scalar_tensor(static_cast<double>(tokens), torch::kFloat64).to(loss.device())});
    group_->allreduce(stats, "the loss all-reduce");
    loss = (stats[0] / world).to(loss.scalar_type());
    tokens = static_cast<int64_t>(stats[1].item<double>());
  }

  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t launchedEarly() const { return early_; }
  bool hooked() const { return hooked_; }
  int64_t bucketBytes() const { return cap_ * 4; }

 private:
  struct Bucket {
    int group;
    int64_t offset, numel;
    int leaves = 0, pending = 0;
    size_t last = 0;  // the lowest leaf index: the bucket is complete when its gradient is
    c10::intrusive_ptr<c10d::Work> work;
  };

  void launch(size_t i) {
    Bucket& b = buckets_[i];
    std::vector<at::Tensor> v{grads_[b.group].narrow(0, b.offset, b.numel)};
    try {
      b.work = group_->pg->allreduce(v);
    } catch (const std::exception& e) {
      group_->fail("starting the gradient all-reduce", e);
    }
  }

  // Called by the autograd engine once leaf `li`'s gradient is accumulated.
  void ready(size_t li) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!armed_ || li >= leafBucket_.size() || leafBucket_[li] < 0) return;
    if (--buckets_[leafBucket_[li]].pending > 0) return;
    while (next_ < buckets_.size() && buckets_[next_].pending == 0) {
      launch(next_++);
      early_++;
    }
  }

  // Buckets for the groups' current layout (rebuilt when freezing or the training groups change).
  void layout(Bert& m, std::vector<ParamGroup>& groups) {
    std::vector<int64_t> sig;
    for (auto& g : groups) {
      sig.push_back(reinterpret_cast<int64_t>(g.grad.data_ptr()));
      for (const auto& r : g.runs) sig.insert(sig.end(), {r.offset, r.numel});
      sig.push_back(-1);
    }
    if (sig == sig_) return;
    sig_ = sig;
    std::lock_guard<std::mutex> lock(mu_);
    buckets_.clear();
    grads_.clear();
    for (auto& g : groups) grads_.push_back(g.grad);
    const auto& leaves = m.leaves();
    // The hooks see the base's leaves: usable when every trainable leaf's gradient is a view of its group's buffer.
    bool hookable = groups.size() == 2;
    for (const auto& l : leaves) {
      if (!hookable || !l.trainable) continue;
      const auto& gr = l.param.grad();
      hookable = gr.defined() && gr.data_ptr() == static_cast<void*>(grads_[l.group].data_ptr<float>() + l.offset);
    }
    leafBucket_.assign(leaves.size(), -1);
    if (hookable) {
      std::vector<int> open(groups.size(), -1);
      for (size_t i = leaves.size(); i-- > 0;) {
        const Leaf& l = leaves[i];
        int& o = open[l.group];
        if (!l.trainable) { o = -1; continue; }
        if (o >= 0 && buckets_[o].offset == l.offset + l.numel && buckets_[o].numel + l.numel <= cap_) {
          Bucket& b = buckets_[o];
          b.offset = l.offset;
          b.numel += l.numel;
          b.leaves++;
          b.last = i;
        } else {
          Bucket b;
          b.group = l.group, b.offset = l.offset, b.numel = l.numel, b.leaves = 1, b.last = i;
          buckets_.push_back(b);
          o = static_cast<int>(buckets_.size()) - 1;
        }
        leafBucket_[i] = o;
      }
      // The order the backward pass completes them in: by their lowest leaf, last layers first.
      std::vector<size_t> order(buckets_.size());
      for (size_t k = 0; k < order.size(); k++) order[k] = k;
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return buckets_[a].last > buckets_[b].last; });
      std::vector<int> where(buckets_.size());
      std::vector<Bucket> sorted;
      for (size_t k = 0; k < order.size(); k++) { where[order[k]] = static_cast<int>(k); sorted.push_back(buckets_[order[k]]); }
      buckets_ = std::move(sorted);
      for (auto& lb : leafBucket_) if (lb >= 0) lb = where[lb];
      // One post-hook per gradient accumulator, kept for the reducer's life (held here: the
      // autograd metadata keeps only a weak reference, so the same accumulator serves every step).
      std::weak_ptr<GradReducer> self = shared_from_this();
      for (size_t i = 0; i < leaves.size(); i++) {
        if (!leaves[i].trainable) continue;
        auto acc = torch::autograd::impl::grad_accumulator(leaves[i].param);
        if (!acc || !hookedNodes_.insert(acc.get()).second) continue;
        acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
            [self, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
              if (auto s = self.lock()) s->ready(i);
              return outputs;
            }));
        accumulators_.push_back(std::move(acc));
      }
    } else {
      for (size_t g = 0; g < groups.size(); g++)
        for (const auto& r : groups[g].runs)
          for (int64_t off = r.offset; off < r.offset + r.numel; off += cap_) {
            Bucket b;
            b.group = static_cast<int>(g), b.offset = off, b.numel = std::min(cap_, r.offset + r.numel - off);
            buckets_.push_back(b);
          }
    }
    hooked_ = hookable;
  }

  std::shared_ptr<DistGroup> group_;
  const int64_t cap_;  // elements per bucket (at least one whole parameter)
  const bool overlap_;
  std::mutex mu_;
  std::vector<int64_t> sig_;
  std::vector<torch::Tensor> grads_;
  std::vector<Bucket> buckets_;
  std::vector<int> leafBucket_;
  std::set<const void*> hookedNodes_;
  // shared_ptr<Node> in LibTorch 1.13, intrusive_ptr<Node> in 2.x.
  using AccumulatorPtr = decltype(torch::autograd::impl::grad_accumulator(std::declval<const torch::autograd::Variable&>()));
  std::vector<AccumulatorPtr> accumulators_;
  size_t next_ = 0;
  int64_t early_ = 0;
  bool armed_ = false, hooked_ = false;
};
std::shared_ptr<GradSync> MakeGradReducer(std::shared_ptr<DistGroup> group, int64_t bucketBytes, bool overlap) {
  return std::make_shared<GradReducer>(std::move(group), bucketBytes, overlap);
}
#endif  // ROOTS_WITH_C10D

std::optional<ReducerInfo> DescribeReducer(const GradSync* sync) {
#if ROOTS_WITH_C10D
  if (auto* r = dynamic_cast<const GradReducer*>(sync)) return ReducerInfo{r->buckets(), r->bucketBytes(), r->launchedEarly(), r->hooked()};
#endif
  return std::nullopt;
}

}  // namespace roots
