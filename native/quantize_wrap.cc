// model.quantize(op, ...): the JS edge of quantize.h. The small ops answer here; quantising and
// loading int8 weights are jobs on the torch thread (model_wrap.cc runs them).
#include "bert.h"
#include "quantize.h"

namespace roots {

namespace {

TensorEntry ReadEntry(Napi::Object parent, const char* key, const std::string& what) {
  Napi::Value v = parent.Get(key);
  const std::string name = what + "." + key;
  if (!v.IsObject()) throw MakeError(parent.Env(), "ERR_INVALID_ARG", "Expected an object for " + name + " but received " + DescribeValue(v));
  auto o = v.As<Napi::Object>();
  TensorEntry e;
  e.target = name;
  e.dtype = RequireString(o, "dtype", name.c_str());
  e.begin = RequireInt(o, "begin", name.c_str());
  e.end = RequireInt(o, "end", name.c_str());
  Napi::Value s = o.Get("shape");
  if (!s.IsArray()) throw MakeError(o.Env(), "ERR_INVALID_ARG", "Expected an array for " + name + ".shape but received " + DescribeValue(s));
  auto a = s.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value d = a.Get(i);
    if (!d.IsNumber()) throw MakeError(o.Env(), "ERR_INVALID_ARG", "Expected numbers in " + name + ".shape but received " + DescribeValue(d));
    e.shape.push_back(static_cast<int64_t>(d.As<Napi::Number>().DoubleValue()));
  }
  return e;
}

std::string EngineArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return "";
  return ArgString(info, i, "engine");
}

}  // namespace

QuantizeRequest ReadQuantizeRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  QuantizeRequest r;
  r.op = ArgString(info, 0, "op");
  if (r.op == "dynamic") {
    r.engine = EngineArg(info, 1);
    return r;
  }
  // 'load': (path, modules, engine)
  r.path = ArgString(info, 1, "path");
  if (info.Length() < 3 || !info[2].IsArray()) throw MakeError(env, "ERR_INVALID_ARG", "Expected an array of modules for quantize('load')");
  auto a = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    const std::string what = "modules[" + std::to_string(i) + "]";
    if (!v.IsObject()) throw MakeError(env, "ERR_INVALID_ARG", "Expected an object for " + what + " but received " + DescribeValue(v));
    auto o = v.As<Napi::Object>();
    r.modules.push_back({RequireString(o, "module", what.c_str()), ReadEntry(o, "weight", what), ReadEntry(o, "scale", what)});
  }
  r.engine = EngineArg(info, 3);
  return r;
}

void RunQuantize(Bert& m, const QuantizeRequest& r) {
  if (r.op == "dynamic") m.setQuantized(QuantizedLinears::FromModel(m, r.engine));
  else m.setQuantized(QuantizedLinears::FromInt8(m, ReadQuantizedModules(r.path, r.modules), r.engine));
}

Napi::Value QuantizeInfo(Napi::Env env, const Bert& m) {
  const QuantizedLinears* q = m.quantized();
  if (!q) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("engine", q->engine());
  o.Set("modules", static_cast<double>(q->numModules()));
  return o;
}

Napi::Value QuantizeCall(const Napi::CallbackInfo& info, Bert& m) {
  Napi::Env env = info.Env();
  const std::string op = ArgString(info, 0, "op");
  if (op == "info") return QuantizeInfo(env, m);
  if (op == "off") {
    m.setQuantized(nullptr);
    return env.Undefined();
  }
  throw MakeError(env, "ERR_INVALID_ARG", "Expected 'info', 'off', 'dynamic' or 'load' for op but received '" + op + "'");
}

}  // namespace roots
