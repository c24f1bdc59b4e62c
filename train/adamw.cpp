#include "train/adamw.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace frost::train {

std::array<double, kAdamWCoefficients> adamw_coefficients(const AdamWOptions& o, int64_t step, double lr,
                                                          bool decay) {
  FROST_CHECK(step >= 1, InvalidArgument, "AdamW steps count from 1, got " << step);
  FROST_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, InvalidArgument,
              "AdamW betas must be in [0, 1), got " << o.beta1 << ", " << o.beta2);
  FROST_CHECK(o.eps >= 0 && lr >= 0 && o.weight_decay >= 0 && std::isfinite(lr), InvalidArgument,
              "AdamW eps, learning rate and weight decay must be finite and non-negative");
  const double bc1 = 1.0 - std::pow(o.beta1, double(step)), bc2 = 1.0 - std::pow(o.beta2, double(step));
  const double wd = decay ? o.weight_decay : 0.0;
  if (o.variant == AdamWVariant::Transformers)
    // step_size = lr * sqrt(bc2) / bc1; denom = sqrt(v) + eps; then p += -lr wd p.
    return {
        o.beta1, 1.0 - o.beta1, o.beta2, 1.0 - o.beta2, o.eps, 1.0, 1.0, lr * std::sqrt(bc2) / bc1, lr * wd,
        0.0};
  // p *= 1 - lr wd; denom = sqrt(v) / sqrt(bc2) + eps; p -= lr / bc1 * m / denom; m by lerp_ (its w < 0.5
  // form, m + w (g - m), which is the one torch takes for 1 - b1 < 0.5).
  FROST_CHECK(1.0 - o.beta1 < 0.5, InvalidArgument,
              "torch.optim.AdamW's lerp form is reproduced for beta1 > 0.5 only, got " << o.beta1);
  return {o.beta1,       1.0 - o.beta1,  o.beta2,  1.0 - o.beta2, o.eps,
          1.0 - lr * wd, std::sqrt(bc2), lr / bc1, 0.0,           1.0};
}

double schedule_factor(const Schedule& s, int64_t step) {
  FROST_CHECK(step >= 0 && s.warmup_steps >= 0, InvalidArgument,
              "schedule steps count from 0, got step " << step << ", warm-up " << s.warmup_steps);
  if (step < s.warmup_steps) return double(step) / double(std::max<int64_t>(1, s.warmup_steps));
  if (s.kind == ScheduleKind::Constant) return 1.0;
  FROST_CHECK(s.total_steps > s.warmup_steps, InvalidArgument,
              "a decaying schedule needs total_steps (" << s.total_steps << ") past warmup_steps ("
                                                        << s.warmup_steps << ")");
  const double span = double(s.total_steps - s.warmup_steps);
  if (s.kind == ScheduleKind::Linear) return std::max(0.0, double(s.total_steps - step) / span);
  const double progress = double(step - s.warmup_steps) / span;
  return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
}

bool decays_by_default(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  const bool bias = ends_with("bias");
  const bool norm_weight = ends_with("weight") && (name.find("LayerNorm") != std::string::npos ||
                                                   name.find("norm") != std::string::npos);
  return !bias && !norm_weight;
}

AdamWGraph add_adamw(Graph& g, std::span<const Tensor> params, std::span<const Tensor> grads,
                     const std::function<bool(const std::string&)>& decays) {
  FROST_CHECK(params.size() == grads.size(), InvalidArgument,
              "AdamW: " << params.size() << " parameters but " << grads.size() << " gradients");
  AdamWBuilder b(g, decays);
  for (size_t i = 0; i < params.size(); ++i) b.add(params[i], grads[i]);
  return b.result();
}

void AdamWBuilder::add(Tensor param, Tensor grad) {
  Graph& g = graph_;
  const Value p = g.value(param.id);  // a copy: adding values below may move the graph's storage
  FROST_CHECK(grad.valid(), InvalidArgument,
              "AdamW: parameter '" << p.name << "' has no gradient (it does not reach the loss)");
  const bool decay = decays_(p.name);
  Tensor& c = coeffs_[decay ? 1 : 0];
  if (!c.valid()) {
    c = g.input(decay ? "adamw.decay" : "adamw.no_decay", p.type.dtype, {kAdamWCoefficients});
    (decay ? out_.has_decay_group : out_.has_no_decay_group) = true;
  }
  FROST_CHECK(c.dtype() == p.type.dtype, InvalidArgument,
              "AdamW: parameter '" << p.name << "' is " << p.type.dtype << ", the others " << c.dtype());
  const std::string m_name = "adamw.m." + p.name, v_name = "adamw.v." + p.name;
  Tensor m = g.state(m_name, p.type.dtype, p.type.shape, nullptr, StateKind::Optimizer);
  Tensor v = g.state(v_name, p.type.dtype, p.type.shape, nullptr, StateKind::Optimizer);
  out_.moment_states.push_back(m_name);
  out_.moment_states.push_back(v_name);
  adamw_update(param, grad, m, v, c);
}

void AdamWGraph::set_step(CompiledGraph& cg, const AdamWOptions& o, int64_t step, double lr) const {
  for (bool decay : {false, true}) {
    if (!(decay ? has_decay_group : has_no_decay_group)) continue;
    const auto c = adamw_coefficients(o, step, lr, decay);
    const std::string name = decay ? "adamw.decay" : "adamw.no_decay";
    // The parameters' dtype: F32 in training; F64 for gradient-check-style tests.
    const ValueId id = cg.graph().find_source(name);
    FROST_CHECK(id != kNoId, InvalidArgument, "the compiled graph has no AdamW input '" << name << "'");
    const DType dt = cg.graph().value(id).type.dtype;
    HostTensor t(dt, {kAdamWCoefficients});
    for (int64_t k = 0; k < kAdamWCoefficients; ++k) {
      if (dt == DType::F64)
        t.data<double>()[k] = c[size_t(k)];
      else
        t.data<float>()[k] = float(c[size_t(k)]);
    }
    cg.set_input(name, t);
  }
}

}  // namespace frost::train
