// The ops that do not fit the op table: PyTorch's indexing grammar (t[...] as t.index([...]) and
// t.indexPut_([...], values)), and unique, whose number of results depends on its flags.
#include "torchkd.h"

#include <ATen/TensorIndexing.h>

namespace tkd {
namespace {

using at::indexing::TensorIndex;

// A slice bound: an integer, or null / undefined for the default.
c10::optional<int64_t> optionalInt(Ctx& c, napi_value v, const std::string& what) {
  napi_valuetype t = napi_undefined;
  napi_typeof(c.env, v, &t);
  if (t == napi_undefined || t == napi_null) return c10::nullopt;
  double d;
  if (napi_get_value_double(c.env, v, &d) != napi_ok || !std::isfinite(d) || std::floor(d) != d ||
      std::fabs(d) > 9007199254740992.0) {
    throw ArgError(what + " must be an integer or null");
  }
  return static_cast<int64_t>(d);
}

// Index entries as the JS layer encodes them: number (an integer index), null (a new axis), '...',
// boolean, [start, stop, step] (a slice; null entries take the defaults), { h: handle } (an index tensor).
std::vector<TensorIndex> readIndices(Ctx& c, size_t i) {
  uint32_t n = c.arrayLength(c.argv[i], "indices must be an array");
  std::vector<TensorIndex> out;
  out.reserve(std::min<uint32_t>(n, 64));
  for (uint32_t k = 0; k < n; k++) {
    std::string what = "index " + std::to_string(k);
    napi_value el = c.element(c.argv[i], k, "indices");
    napi_valuetype t = napi_undefined;
    napi_typeof(c.env, el, &t);
    bool elIsArray = false;
    napi_is_array(c.env, el, &elIsArray);
    if (t == napi_number) {
      double d;
      napi_get_value_double(c.env, el, &d);
      if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740992.0) {
        throw ArgError(what + " is not an integer");
      }
      out.emplace_back(static_cast<int64_t>(d));
    } else if (t == napi_null) {
      out.emplace_back(c10::nullopt);
    } else if (t == napi_boolean) {
      bool b = false;
      napi_get_value_bool(c.env, el, &b);
      out.emplace_back(b);
    } else if (t == napi_string) {
      out.emplace_back(at::indexing::Ellipsis);
    } else if (elIsArray) {
      if (c.arrayLength(el, what + " must be a slice [start, stop, step]") != 3) {
        throw ArgError(what + " must be a slice [start, stop, step]");
      }
      c10::optional<int64_t> part[3];
      const char* names[3] = {" start", " stop", " step"};
      for (uint32_t p = 0; p < 3; p++) part[p] = optionalInt(c, c.element(el, p, what), "slice" + std::string(names[p]));
      out.emplace_back(at::indexing::Slice(part[0], part[1], part[2]));
    } else if (t == napi_object) {
      napi_value h = nullptr;
      checkJs(c.env, napi_get_named_property(c.env, el, "h", &h), what);
      at::Tensor* tensor = c.handleTensor(h);
      if (tensor == nullptr) throw ArgError(what + " is a disposed tensor");
      if (tensor->requires_grad()) c.gradNeeded = true;
      out.emplace_back(*tensor);
    } else {
      throw ArgError(what + " is not an integer, slice, null, '...', boolean or Tensor");
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
