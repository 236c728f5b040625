// model.adapter(op, ...): the JS edge of adapters.h, one synchronous dispatcher (every op is small:
// creating, listing and choosing adapters, copying their few tensors, merging a low-rank product into
// a weight). Loading and saving adapter files go through the model's async loadSafetensors/save.
#include "adapters.h"
#include "bert.h"

namespace roots {

namespace {

std::vector<std::string> Strings(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  std::vector<std::string> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throw MakeError(o.Env(), "ERR_INVALID_ARG", std::string("Expected an array of strings for config.") + key + " but received " + DescribeValue(v));
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value s = a.Get(i);
    if (!s.IsString()) throw MakeError(o.Env(), "ERR_INVALID_ARG", std::string("Expected a string for config.") + key + "[" + std::to_string(i) + "] but received " + DescribeValue(s));
    out.push_back(s.As<Napi::String>().Utf8Value());
  }
  return out;
}

// The resolved adapter config (lib/peft/config.ts resolved every default and matched the targets).
AdapterConfig ReadAdapterConfig(Napi::Object o) {
  const char* w = "config";
  AdapterConfig c;
  c.type = RequireString(o, "type", w);
  c.seed = static_cast<uint64_t>(RequireInt(o, "seed", w));
  c.saved = Strings(o, "saved");
  if (c.type == "lora") {
    c.r = RequireInt(o, "r", w);
    c.scaling = RequireNumber(o, "scaling", w);
    c.dropout = RequireNumber(o, "dropout", w);
  }
  if (c.type == "lora" || c.type == "ia3") {
    c.targets = Strings(o, "targets");
    c.feedforward = Strings(o, "feedforward");
  }
  if (c.type == "prefix") {
    c.num_virtual_tokens = RequireInt(o, "numVirtualTokens", w);
    Napi::Value proj = o.Get("prefixProjection");
    c.prefix_projection = proj.IsBoolean() && proj.As<Napi::Boolean>().Value();
    if (c.prefix_projection) c.encoder_hidden_size = RequireInt(o, "encoderHiddenSize", w);
  }
  return c;
}

}  // namespace

Napi::Value AdapterCall(const Napi::CallbackInfo& info, Bert& m) {
  Napi::Env env = info.Env();
  Adapters& ad = m.adapters();
  const std::string op = ArgString(info, 0, "op");
  auto name = [&]() { return ArgString(info, 1, "name"); };
  if (op == "add") {
    ad.add(name(), ReadAdapterConfig(ArgObject(info, 2, "config")));
  } else if (op == "remove") {
    ad.remove(name());
  } else if (op == "use") {
    ad.use(name(), info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value());
  } else if (op == "active") {
    return Napi::String::New(env, ad.active());
  } else if (op == "merge") {
    ad.merge(name());
  } else if (op == "unmerge") {
    ad.unmerge(name());
  } else if (op == "list") {
    auto names = ad.names();
    auto out = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); i++) {
      const Adapter& a = ad.get(names[i]);
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", names[i]);
      o.Set("type", a.config.type);
      o.Set("numParameters", static_cast<double>(a.numParameters()));
      o.Set("merged", a.merged);
      o.Set("step", static_cast<double>(a.step));
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  } else if (op == "parameters") {
    const Adapter& a = ad.get(name());
    auto out = Napi::Array::New(env, a.named.size());
    for (size_t i = 0; i < a.named.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", a.named[i].first);
      auto shape = Napi::Array::New(env);
      for (int64_t d = 0; d < a.named[i].second.dim(); d++) shape.Set(static_cast<uint32_t>(d), static_cast<double>(a.named[i].second.size(d)));
      o.Set("shape", shape);
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  } else if (op == "get") {
    return ToFloat32Array(env, ad.target(name() + "/" + ArgString(info, 2, "param")));
  } else if (op == "grad") {
    return ToFloat32Array(env, ad.grad(name(), ArgString(info, 2, "param")));
  } else if (op == "set") {
    auto t = ad.target(name() + "/" + ArgString(info, 2, "param"));
    auto src = CopyFloat32Array(env, info.Length() > 3 ? info[3] : env.Undefined(), "values", t.numel());
    torch::NoGradGuard ng;
    t.copy_(src.view(t.sizes()));
  } else {
    throw MakeError(env, "ERR_INVALID_ARG", "unknown adapter op '" + op + "'");
  }
  return env.Undefined();
}

}  // namespace roots
