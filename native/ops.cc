// The first ops of the bridge. Each takes handles and plain values already ordered by the JS layer
// (PyTorch's positional order, options resolved) and returns a new handle.
#include "torchkd.h"

namespace tkd {
namespace {

at::Scalar alphaOf(Ctx& c, size_t i) { return c.isNullish(i) ? at::Scalar(1) : c.scalar(i); }

napi_value Add(Ctx& c) { return c.ret(at::add(c.tensor(0), c.tensor(1), alphaOf(c, 2))); }
napi_value AddScalar(Ctx& c) { return c.ret(at::add(c.tensor(0), c.scalar(1), alphaOf(c, 2))); }
napi_value AddInplace(Ctx& c) {
  c.tensor(0).add_(c.tensor(1), alphaOf(c, 2));
  return c.undefined();
}
napi_value AddScalarInplace(Ctx& c) {
  c.tensor(0).add_(c.scalar(1), alphaOf(c, 2));
  return c.undefined();
}

napi_value Mul(Ctx& c) { return c.ret(at::mul(c.tensor(0), c.tensor(1))); }
napi_value MulScalar(Ctx& c) { return c.ret(at::mul(c.tensor(0), c.scalar(1))); }
napi_value MulInplace(Ctx& c) {
  c.tensor(0).mul_(c.tensor(1));
  return c.undefined();
}
napi_value MulScalarInplace(Ctx& c) {
  c.tensor(0).mul_(c.scalar(1));
  return c.undefined();
}

napi_value Matmul(Ctx& c) { return c.ret(at::matmul(c.tensor(0), c.tensor(1))); }
napi_value Relu(Ctx& c) { return c.ret(at::relu(c.tensor(0))); }

// sum(self, dims | null, keepdim, dtype)
napi_value Sum(Ctx& c) {
  at::Tensor& t = c.tensor(0);
  c10::optional<at::ScalarType> dtype = c.optDtype(3);
  if (c.isNullish(1)) return c.ret(at::sum(t, dtype));
  std::vector<int64_t> dims = c.intList(1);
  bool keepdim = !c.isNullish(2) && c.boolean(2);
  return c.ret(at::sum(t, dims, keepdim, dtype));
}

// softmax(self, dim, dtype)
napi_value Softmax(Ctx& c) {
  at::Tensor& t = c.tensor(0);
  return c.ret(at::softmax(t, c.dim(1, t.dim()), c.optDtype(2)));
}

}  // namespace

void registerOps(Registrar& r) {
  r.def("add", Entry<Add>, {"self", "other", "alpha"});
  r.def("addScalar", Entry<AddScalar>, {"self", "other", "alpha"});
  r.def("add_", Entry<AddInplace>, {"self", "other", "alpha"});
  r.def("addScalar_", Entry<AddScalarInplace>, {"self", "other", "alpha"});
  r.def("mul", Entry<Mul>, {"self", "other"});
  r.def("mulScalar", Entry<MulScalar>, {"self", "other"});
  r.def("mul_", Entry<MulInplace>, {"self", "other"});
  r.def("mulScalar_", Entry<MulScalarInplace>, {"self", "other"});
  r.def("matmul", Entry<Matmul>, {"self", "other"});
  r.def("relu", Entry<Relu>, {"self"});
  r.def("sum", Entry<Sum>, {"self", "dim", "keepdim", "dtype"});
  r.def("softmax", Entry<Softmax>, {"self", "dim", "dtype"});
}

}  // namespace tkd
