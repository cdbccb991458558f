// The first ops of the bridge. Each reads its arguments (handles and plain values already ordered by the
// JS layer: PyTorch's positional order, options resolved), then runs the op (out-of-place ones through
// Ctx::run) and returns a new handle. The op table of the next milestone generates functions of exactly this shape.
#include "torchkd.h"

namespace tkd {
namespace {

at::Scalar alphaOf(Ctx& c, size_t i) { return c.isNullish(i) ? at::Scalar(1) : c.scalar(i); }

napi_value Add(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  at::Tensor& other = c.tensor(1);
  at::Scalar alpha = alphaOf(c, 2);
  return c.ret(c.run([&] { return at::add(self, other, alpha); }));
}
napi_value AddScalar(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  at::Scalar other = c.scalar(1), alpha = alphaOf(c, 2);
  return c.ret(c.run([&] { return at::add(self, other, alpha); }));
}
napi_value AddInplace(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  at::Tensor& other = c.tensor(1);
  at::Scalar alpha = alphaOf(c, 2);
  self.add_(other, alpha);
  return c.undefined();
}
napi_value AddScalarInplace(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  at::Scalar other = c.scalar(1), alpha = alphaOf(c, 2);
  self.add_(other, alpha);
  return c.undefined();
}

napi_value Mul(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  at::Tensor& other = c.tensor(1);
  return c.ret(c.run([&] { return at::mul(self, other); }));
}
napi_value MulScalar(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  at::Scalar other = c.scalar(1);
  return c.ret(c.run([&] { return at::mul(self, other); }));
}
napi_value MulInplace(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  at::Tensor& other = c.tensor(1);
  self.mul_(other);
  return c.undefined();
}
napi_value MulScalarInplace(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  at::Scalar other = c.scalar(1);
  self.mul_(other);
  return c.undefined();
}

napi_value Matmul(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  at::Tensor& other = c.tensor(1);
  return c.ret(c.run([&] { return at::matmul(self, other); }));
}

napi_value Relu(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  return c.ret(c.run([&] { return at::relu(self); }));
}

// sum(self, dims | null, keepdim, dtype)
napi_value Sum(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  c10::optional<at::ScalarType> dtype = c.optDtype(3);
  if (c.isNullish(1)) return c.ret(c.run([&] { return at::sum(self, dtype); }));
  std::vector<int64_t> dims = c.intList(1);
  bool keepdim = !c.isNullish(2) && c.boolean(2);
  return c.ret(c.run([&] { return at::sum(self, dims, keepdim, dtype); }));
}

// softmax(self, dim, dtype)
napi_value Softmax(Ctx& c) {
  at::Tensor& self = c.tensor(0);
  int64_t dim = c.dim(1, self.dim());
  c10::optional<at::ScalarType> dtype = c.optDtype(2);
  return c.ret(c.run([&] { return at::softmax(self, dim, dtype); }));
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
