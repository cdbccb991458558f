// Optimizer steps and gradient clipping, one native call per parameter group: the JS optimizer holds the
// state tensors (as ordinary handles) and the hyperparameters; the update itself runs here with in-place
// ATen ops under NoGradGuard, following PyTorch 1.13's single-tensor implementations (torch/optim/sgd.py,
// adam.py, adamw.py, rmsprop.py, adagrad.py) operation for operation, so results match PyTorch bit for bit
// on the same device.
#include "compat.h"
#include "torchkd.h"

#include <c10/core/GradMode.h>

#include <cmath>
#include <limits>

namespace tkd {
namespace {

// states: an array of arrays of handles, each either empty or as long as params.
std::vector<std::vector<at::Tensor>> readStates(Ctx& c, size_t i, size_t nParams) {
  std::string what = "argument " + c.argName(i);
  uint32_t n = c.arrayLength(c.argv[i], what + " must be an array of arrays of Tensors");
  std::vector<std::vector<at::Tensor>> out;
  for (uint32_t k = 0; k < n; k++) {
    std::string name = "states[" + std::to_string(k) + "]";
    out.push_back(c.tensorArray(c.element(c.argv[i], k, what), name, false));
    if (!out.back().empty() && out.back().size() != nParams) {
      throw ArgError(name + " has " + std::to_string(out.back().size()) + " tensors for " + std::to_string(nParams) +
                     " parameters");
    }
  }
  return out;
}

const at::Tensor& state(const std::vector<std::vector<at::Tensor>>& s, size_t which, size_t i) {
  if (which >= s.size() || s[which].empty()) throw ArgError("missing state tensors (states[" + std::to_string(which) + "])");
  return s[which][i];
}

double hp(const std::vector<double>& h, size_t i) {
  if (i >= h.size()) throw ArgError("too few hyperparameters");
  return h[i];
}

at::Tensor gradOf(const at::Tensor& p, size_t i) {
  const at::Tensor& g = p.grad();
  if (!g.defined()) throw ArgError("parameter " + std::to_string(i) + " has no grad");
  TORCH_CHECK(!g.is_sparse(), "sparse gradients are not supported");
  return g;
}

// SGD: states [momentumBuffer] (empty when momentum == 0); steps[i] = 1 when the buffer is fresh (PyTorch
// creates it as clone(d_p) on first use); hyper [lr, momentum, dampening, weightDecay, nesterov, maximize].
void sgd(const std::vector<at::Tensor>& params, const std::vector<std::vector<at::Tensor>>& s,
         const std::vector<double>& steps, const std::vector<double>& h) {
  double lr = hp(h, 0), momentum = hp(h, 1), dampening = hp(h, 2), wd = hp(h, 3);
  bool nesterov = hp(h, 4) != 0, maximize = hp(h, 5) != 0;
  for (size_t i = 0; i < params.size(); i++) {
    at::Tensor param = params[i];
    at::Tensor d_p = maximize ? gradOf(param, i).neg() : gradOf(param, i);
    if (wd != 0) d_p = d_p.add(param, wd);
    if (momentum != 0) {
      at::Tensor buf = state(s, 0, i);
      if (steps.at(i) != 0) buf.copy_(d_p);
      else buf.mul_(momentum).add_(d_p, 1 - dampening);
      d_p = nesterov ? d_p.add(buf, momentum) : buf;
    }
    param.add_(d_p, -lr);
  }
}

// Adam / AdamW: states [expAvg, expAvgSq, maxExpAvgSq (empty unless amsgrad)]; steps[i] is the step count
// after this step's increment; hyper [lr, beta1, beta2, eps, weightDecay, amsgrad, maximize].
void adam(const std::vector<at::Tensor>& params, const std::vector<std::vector<at::Tensor>>& s,
          const std::vector<double>& steps, const std::vector<double>& h, bool decoupled) {
  double lr = hp(h, 0), beta1 = hp(h, 1), beta2 = hp(h, 2), eps = hp(h, 3), wd = hp(h, 4);
  bool amsgrad = hp(h, 5) != 0, maximize = hp(h, 6) != 0;
  for (size_t i = 0; i < params.size(); i++) {
    at::Tensor param = params[i];
    at::Tensor grad = maximize ? gradOf(param, i).neg() : gradOf(param, i);
    at::Tensor expAvg = state(s, 0, i), expAvgSq = state(s, 1, i);
    double step = steps.at(i);
    if (decoupled) param.mul_(1 - lr * wd);
    else if (wd != 0) grad = grad.add(param, wd);
    compat::runningMean(expAvg, grad, beta1);
    expAvgSq.mul_(beta2).addcmul_(grad, decoupled ? grad : grad.conj(), 1 - beta2);
    double bc1 = 1 - std::pow(beta1, step);
    double bc2 = 1 - std::pow(beta2, step);
    double stepSize = lr / bc1;
    double bc2Sqrt = std::sqrt(bc2);
    at::Tensor denom;
    if (amsgrad) {
      at::Tensor maxSq = state(s, 2, i);
      at::maximum_out(maxSq, maxSq, expAvgSq);
      denom = maxSq.sqrt().div(bc2Sqrt).add_(eps);
    } else {
      denom = expAvgSq.sqrt().div(bc2Sqrt).add_(eps);
    }
    param.addcdiv_(expAvg, denom, -stepSize);
  }
}

// RMSprop: states [squareAvg, momentumBuffer (empty unless momentum > 0), gradAvg (empty unless centered)];
// hyper [lr, alpha, eps, weightDecay, momentum, centered, maximize].
void rmsprop(const std::vector<at::Tensor>& params, const std::vector<std::vector<at::Tensor>>& s,
             const std::vector<double>& h) {
  double lr = hp(h, 0), alpha = hp(h, 1), eps = hp(h, 2), wd = hp(h, 3), momentum = hp(h, 4);
  bool centered = hp(h, 5) != 0, maximize = hp(h, 6) != 0;
  for (size_t i = 0; i < params.size(); i++) {
    at::Tensor param = params[i];
    at::Tensor grad = maximize ? gradOf(param, i).neg() : gradOf(param, i);
    at::Tensor squareAvg = state(s, 0, i);
    if (wd != 0) grad = grad.add(param, wd);
    squareAvg.mul_(alpha).addcmul_(grad, grad, 1 - alpha);
    at::Tensor avg;
    if (centered) {
      at::Tensor gradAvg = state(s, 2, i);
      compat::runningMean(gradAvg, grad, alpha);
      avg = squareAvg.addcmul(gradAvg, gradAvg, -1).sqrt_();
    } else {
      avg = squareAvg.sqrt();
    }
    avg = avg.add_(eps);
    if (momentum > 0) {
      at::Tensor buf = state(s, 1, i);
      buf.mul_(momentum).addcdiv_(grad, avg);
      param.add_(buf, -lr);
    } else {
      param.addcdiv_(grad, avg, -lr);
    }
  }
}

// Adagrad: states [sum]; steps[i] after increment; hyper [lr, lrDecay, weightDecay, eps, maximize].
void adagrad(const std::vector<at::Tensor>& params, const std::vector<std::vector<at::Tensor>>& s,
             const std::vector<double>& steps, const std::vector<double>& h) {
  double lr = hp(h, 0), lrDecay = hp(h, 1), wd = hp(h, 2), eps = hp(h, 3);
  bool maximize = hp(h, 4) != 0;
  for (size_t i = 0; i < params.size(); i++) {
    at::Tensor param = params[i];
    at::Tensor grad = maximize ? gradOf(param, i).neg() : gradOf(param, i);
    at::Tensor sum = state(s, 0, i);
    double step = steps.at(i);
    if (wd != 0) grad = grad.add(param, wd);
    double clr = lr / (1 + (step - 1) * lrDecay);
    sum.addcmul_(grad, grad, 1);
    at::Tensor std = sum.sqrt().add_(eps);
    param.addcdiv_(grad, std, -clr);
  }
}

// optimStep(kind, params, states, steps, hyper): one group's update. Every param must have a grad.
napi_value OptimStep(Ctx& c) {
  std::string kind = c.string(0);
  std::vector<at::Tensor> params = c.tensorList(1);
  std::vector<std::vector<at::Tensor>> s = readStates(c, 2, params.size());
  std::vector<double> steps = c.doubleList(3);
  std::vector<double> h = c.doubleList(4);
  if (steps.size() != params.size()) throw ArgError("steps must have one entry per parameter");
  c10::NoGradGuard noGrad;
  if (kind == "sgd") sgd(params, s, steps, h);
  else if (kind == "adam") adam(params, s, steps, h, false);
  else if (kind == "adamw") adam(params, s, steps, h, true);
  else if (kind == "rmsprop") rmsprop(params, s, h);
  else if (kind == "adagrad") adagrad(params, s, steps, h);
  else throw ArgError("unknown optimizer '" + kind + "'");
  return c.undefined();
}

// hasGrad(params) -> boolean[]: which tensors have a defined .grad.
napi_value HasGrad(Ctx& c) {
  std::vector<at::Tensor> params = c.tensorList(0);
  napi_value arr;
  napi_create_array_with_length(c.env, params.size(), &arr);
  for (size_t i = 0; i < params.size(); i++) {
    napi_value b;
    napi_get_boolean(c.env, params[i].grad().defined(), &b);
    napi_set_element(c.env, arr, static_cast<uint32_t>(i), b);
  }
  return arr;
}

// zeroGrad(params, setToNone): PyTorch's Optimizer.zero_grad for every param.
napi_value ZeroGrad(Ctx& c) {
  std::vector<at::Tensor> params = c.tensorList(0);
  bool setToNone = c.boolean(1);
  c10::NoGradGuard noGrad;
  for (at::Tensor& p : params) {
    at::Tensor& g = p.mutable_grad();
    if (!g.defined()) continue;
    if (setToNone) {
      g = at::Tensor();
    } else {
      if (g.grad_fn()) g = g.detach();
      else g.requires_grad_(false);
      g.zero_();
    }
  }
  return c.undefined();
}

// clipGradNorm_(params, maxNorm, normType, errorIfNonfinite) -> total norm (a 0-d tensor), as
// torch.nn.utils.clip_grad_norm_ in PyTorch 1.13.
napi_value ClipGradNorm(Ctx& c) {
  std::vector<at::Tensor> params = c.tensorList(0);
  double maxNorm = c.number(1), normType = c.number(2);
  bool errorIfNonfinite = c.boolean(3);
  c10::NoGradGuard noGrad;
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return c.ret(at::zeros({}, at::kFloat));
  at::Device device = grads[0].device();
  at::Tensor total;
  if (std::isinf(normType) && normType > 0) {
    std::vector<at::Tensor> norms;
    for (const at::Tensor& g : grads) norms.push_back(g.detach().abs().max().to(device));
    total = norms.size() == 1 ? norms[0] : at::stack(norms).max();
  } else {
    std::vector<at::Tensor> norms;
    for (const at::Tensor& g : grads) norms.push_back(at::norm(g.detach(), normType).to(device));
    total = at::norm(at::stack(norms), normType);
  }
  if (errorIfNonfinite && at::logical_or(total.isnan(), total.isinf()).item<bool>()) {
    throw std::runtime_error("The total norm of order " + std::to_string(normType) +
                             " for gradients from `parameters` is non-finite, so it cannot be clipped. To disable "
                             "this error and scale the gradients by the non-finite norm anyway, set "
                             "`errorIfNonfinite: false`");
  }
  // Python's max_norm / (total + 1e-6) is Tensor.__rtruediv__: reciprocal() * max_norm.
  at::Tensor coef = (total + 1e-6).reciprocal() * maxNorm;
  at::Tensor clamped = at::clamp_max(coef, 1.0);
  for (const at::Tensor& g : grads) g.detach().mul_(clamped.to(g.device()));
  return c.ret(total);
}

// clipGradValue_(params, clipValue): clamps every grad to [-clipValue, clipValue] in place.
napi_value ClipGradValue(Ctx& c) {
  std::vector<at::Tensor> params = c.tensorList(0);
  double v = c.number(1);
  c10::NoGradGuard noGrad;
  for (const at::Tensor& p : params) {
    if (p.grad().defined()) p.grad().clamp_(-v, v);
  }
  return c.undefined();
}

// vectorToParameters(vec, params): copies consecutive slices of vec into the params (no grad recorded).
napi_value VectorToParameters(Ctx& c) {
  at::Tensor& vec = c.tensor(0);
  std::vector<at::Tensor> params = c.tensorList(1);
  TORCH_CHECK(vec.dim() == 1, "expected vec to be a 1-d tensor, got ", vec.dim(), "-d");
  int64_t total = 0;
  for (const at::Tensor& p : params) total += p.numel();
  TORCH_CHECK(total == vec.numel(), "vec has ", vec.numel(), " elements but the parameters have ", total);
  c10::NoGradGuard noGrad;
  int64_t offset = 0;
  for (at::Tensor& p : params) {
    int64_t n = p.numel();
    p.copy_(vec.slice(0, offset, offset + n).view_as(p));
    offset += n;
  }
  return c.undefined();
}

}  // namespace

void registerOptim(Registrar& r) {
  r.def("optimStep", Entry<OptimStep>, {"kind", "params", "states", "steps", "hyper"});
  r.def("optimHasGrad", Entry<HasGrad>, {"params"});
  r.def("optimZeroGrad", Entry<ZeroGrad>, {"params", "setToNone"});
  r.def("clipGradNorm_", Entry<ClipGradNorm>, {"parameters", "maxNorm", "normType", "errorIfNonfinite"});
  r.def("clipGradValue_", Entry<ClipGradValue>, {"parameters", "clipValue"});
  r.def("vectorToParameters", Entry<VectorToParameters>, {"vec", "parameters"});
}

}  // namespace tkd
