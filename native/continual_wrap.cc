// model.continual(op, ...): the JS edge of continual.h, one synchronous dispatcher for the small
// ops (settings, snapshots, copying one parameter's Fisher / anchor); the Fisher pass itself is an
// async job of the model (model_wrap.cc's ContinualOp), and the teacher logits of LwF enter with
// trainStep's options (ReadDistill).
#include "continual_wrap.h"

#include "bert.h"

namespace roots {

namespace {

std::vector<torch::Tensor>& Buffer(ContinualState& s, const std::string& which) {
  if (which == "fisher") return s.fisher;
  if (which == "anchor") return s.anchor;
  if (which == "start") return s.start;
  throw RootsException("ERR_INVALID_ARG", "Expected 'fisher', 'anchor' or 'start' but received '" + which + "'");
}

}  // namespace

Napi::Value ContinualCall(const Napi::CallbackInfo& info, Bert& m) {
  Napi::Env env = info.Env();
  ContinualState& s = m.continual;
  const std::string op = ArgString(info, 0, "op");
  torch::NoGradGuard ng;
  if (op == "configure") {  // configure({ ewcLambda, l2spAlpha })
    Napi::Object o = ArgObject(info, 1, "options");
    s.ewc_lambda = RequireNumber(o, "ewcLambda", "options");
    s.l2sp_alpha = RequireNumber(o, "l2spAlpha", "options");
  } else if (op == "snapshot") {  // snapshot('anchor' | 'start'): the current weights
    auto& buf = Buffer(s, ArgString(info, 1, "which"));
    buf.clear();
    for (auto& g : m.groups()) buf.push_back(g.data.clone());
  } else if (op == "consolidate") {  // consolidate(gamma): F = gamma F + mean of the new squared gradients; anchor = weights
    const double gamma = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 1.0;
    if (s.fisher_new.empty() || s.fisher_batches == 0) throw RootsException("ERR_INVALID_ARG", "consolidate: no Fisher was accumulated (run fisher first)");
    auto& groups = m.groups();
    for (size_t g = 0; g < groups.size(); g++) {
      auto fresh = s.fisher_new[g] / static_cast<double>(s.fisher_batches);
      if (s.fisher.size() == groups.size()) s.fisher[g] = s.fisher[g] * gamma + fresh;
      else { if (g == 0) s.fisher.clear(); s.fisher.push_back(fresh); }
    }
    s.anchor.clear();
    for (auto& g : groups) s.anchor.push_back(g.data.clone());
    s.fisher_new.clear();
    s.fisher_batches = 0;
  } else if (op == "clear") {
    Buffer(s, ArgString(info, 1, "which")).clear();
  } else if (op == "get") {  // get(which, name): that parameter's slice (zeros when the buffer is unset)
    return ToFloat32Array(env, ContinualView(m, ArgString(info, 1, "which"), ArgString(info, 2, "name")).contiguous());
  } else if (op == "set") {  // set(which, name, values)
    auto view = ContinualView(m, ArgString(info, 1, "which"), ArgString(info, 2, "name"));
    auto src = CopyFloat32Array(env, info.Length() > 3 ? info[3] : env.Undefined(), "values", view.numel());
    view.copy_(src.view(view.sizes()));
  } else if (op == "state") {
    Napi::Object r = Napi::Object::New(env);
    r.Set("ewcLambda", s.ewc_lambda);
    r.Set("l2spAlpha", s.l2sp_alpha);
    r.Set("fisher", !s.fisher.empty());
    r.Set("anchor", !s.anchor.empty());
    r.Set("start", !s.start.empty());
    r.Set("fisherBatches", static_cast<double>(s.fisher_batches));
    return r;
  } else {
    throw MakeError(env, "ERR_INVALID_ARG", "unknown continual op '" + op + "'");
  }
  return env.Undefined();
}

void ReadDistill(Napi::Object options, std::vector<BatchTensors>& micro, bool token) {
  Napi::Env env = options.Env();
  Napi::Value d = options.Get("distill");
  if (d.IsUndefined() || d.IsNull()) return;
  if (!d.IsObject()) throw MakeError(env, "ERR_INVALID_ARG", "Expected an object for options.distill but received " + DescribeValue(d));
  auto o = d.As<Napi::Object>();
  const double T = RequireNumber(o, "temperature", "options.distill");
  const double w = RequireNumber(o, "weight", "options.distill");
  const int64_t L = RequireInt(o, "labels", "options.distill");
  if (!(T > 0) || !(w >= 0) || L < 1) throw MakeError(env, "ERR_INVALID_ARG", "options.distill needs temperature > 0, weight >= 0 and labels >= 1");
  Napi::Value lv = o.Get("logits");
  if (!lv.IsArray() || lv.As<Napi::Array>().Length() != micro.size())
    throw MakeError(env, "ERR_INVALID_ARG", "Expected one Float32Array of teacher logits per batch in options.distill.logits but received " + DescribeValue(lv));
  auto arr = lv.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    auto& b = micro[i];
    const int64_t rows = token ? b.batch * b.seq : b.batch;
    const std::string what = "options.distill.logits[" + std::to_string(i) + "]";
    auto t = CopyFloat32Array(env, arr.Get(i), what.c_str(), rows * L);
    b.teacher_logits = token ? t.view({b.batch, b.seq, L}) : t.view({b.batch, L});
    b.distill_temperature = T;
    b.distill_weight = w;
  }
}

}  // namespace roots
