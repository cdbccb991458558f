// The ops that do not fit the op table: PyTorch's indexing grammar (t[...] as t.index([...]) and
// t.indexPut_([...], values)), and unique, whose number of results depends on its flags.
#include "torchkd.h"

#include <ATen/TensorIndexing.h>

namespace tkd {
namespace {

using at::indexing::TensorIndex;

c10::optional<int64_t> optionalInt(napi_env env, napi_value v, const char* what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) return c10::nullopt;
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || std::floor(d) != d || !std::isfinite(d)) {
    throw ArgError(std::string("slice ") + what + " must be an integer or null");
  }
  return static_cast<int64_t>(d);
}

// Index entries as the JS layer encodes them: number (an integer index), null (a new axis), '...',
// boolean, [start, stop, step] (a slice; null entries take the defaults), { h: handle } (an index tensor).
std::vector<TensorIndex> readIndices(Ctx& c, size_t i) {
  bool isArray = false;
  napi_is_array(c.env, c.argv[i], &isArray);
  if (!isArray) throw ArgError("indices must be an array");
  uint32_t n;
  napi_get_array_length(c.env, c.argv[i], &n);
  std::vector<TensorIndex> out;
  out.reserve(n);
  for (uint32_t k = 0; k < n; k++) {
    napi_value el;
    napi_get_element(c.env, c.argv[i], k, &el);
    napi_valuetype t;
    napi_typeof(c.env, el, &t);
    bool elIsArray = false;
    napi_is_array(c.env, el, &elIsArray);
    if (t == napi_number) {
      double d;
      napi_get_value_double(c.env, el, &d);
      if (std::floor(d) != d || !std::isfinite(d)) throw ArgError("index " + std::to_string(k) + " is not an integer");
      out.emplace_back(static_cast<int64_t>(d));
    } else if (t == napi_null) {
      out.emplace_back(c10::nullopt);
    } else if (t == napi_boolean) {
      bool b;
      napi_get_value_bool(c.env, el, &b);
      out.emplace_back(b);
    } else if (t == napi_string) {
      out.emplace_back(at::indexing::Ellipsis);
    } else if (elIsArray) {
      napi_value part[3];
      for (uint32_t p = 0; p < 3; p++) napi_get_element(c.env, el, p, &part[p]);
      out.emplace_back(at::indexing::Slice(optionalInt(c.env, part[0], "start"), optionalInt(c.env, part[1], "stop"),
                                           optionalInt(c.env, part[2], "step")));
    } else if (t == napi_object) {
      napi_value h;
      napi_get_named_property(c.env, el, "h", &h);
      double d;
      at::Tensor* tensor = napi_get_value_double(c.env, h, &d) == napi_ok && d >= 0 ? c.inst->find(static_cast<int64_t>(d)) : nullptr;
      if (tensor == nullptr) throw ArgError("index " + std::to_string(k) + " is a disposed tensor");
      if (tensor->requires_grad()) c.gradNeeded = true;
      out.emplace_back(*tensor);
    } else {
      throw ArgError("index " + std::to_string(k) + " is not an integer, slice, null, '...', boolean or Tensor");
    }
  }
  return out;
}

// index(self, indices) -> Tensor (a view for basic indexing, a copy for advanced indexing)
napi_value Index(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  std::vector<TensorIndex> indices = readIndices(c, 1);
  return c.ret(self.index(indices));
}

// indexPut_(self, indices, values: Tensor handle | null, value: number (when values is null)).
// Handles are numbers too, hence the two arguments.
napi_value IndexPut(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  std::vector<TensorIndex> indices = readIndices(c, 1);
  if (c.isNullish(2)) self.index_put_(indices, c.scalar(3));
  else self.index_put_(indices, c.tensor(2));
  return c.undefined();
}

// unique(self, sorted, returnInverse, returnCounts, dim | null) -> [output, inverse, counts]
napi_value Unique(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  bool sorted = c.boolean(1), inverse = c.boolean(2), counts = c.boolean(3);
  std::tuple<at::Tensor, at::Tensor, at::Tensor> r =
      c.isNullish(4) ? at::_unique2(self, sorted, inverse, counts)
                     : at::unique_dim(self, c.dim(4, self.dim()), sorted, inverse, counts);
  return c.retTuple(r);
}

}  // namespace

void registerIndexing(Registrar& r) {
  r.def("index", Entry<Index>, {"self", "indices"});
  r.def("indexPut_", Entry<IndexPut>, {"self", "indices", "values", "value"});
  r.def("unique", Entry<Unique>, {"self", "sorted", "returnInverse", "returnCounts", "dim"});
}

}  // namespace tkd
