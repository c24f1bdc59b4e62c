// AdamW inside the compiled training graph (../shared/spec/frozen-in-time.md §3.4): the per-element update is
// one op per parameter (ops/api.h adamw_update) whose step-dependent scalars — bias corrections, the
// scheduled learning rate, weight decay — are a small input set on the host before each run.
//
//   AdamWOptions o;                                     // transformers.AdamW, lr 3e-5, eps 1e-6: the
//   reference AdamWGraph adam = add_adamw(graph, params, grads);   // m and v states, one update node per
//   parameter
//   ...compile...
//   for (int64_t t = 1; ...; ++t) { adam.set_step(*cg, o, t, learning_rate(o, schedule, t - 1)); cg->run(); }
//
// The two variants, for a parameter p with gradient g at step t (1-based), lr the step's learning rate:
//   both:          m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g²
//   Transformers:  p -= lr √(1 - b2^t) / (1 - b1^t) · m / (√v + eps);   then p -= lr wd · p
//                  (transformers 4.x optimization.py, class AdamW: eps before the bias correction, decay
//                  after the update, on the updated p — the reference's optimiser)
//   Torch:         p *= 1 - lr wd;   then p -= lr / (1 - b1^t) · m / (√v / √(1 - b2^t) + eps)
//                  (torch.optim.AdamW)
// Weight decay applies to the parameters `decays` selects (by default all but biases and LayerNorm weights).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/compiled_graph.h"
#include "engine/graph.h"
#include "ops/api.h"

namespace frost::train {

enum class AdamWVariant { Transformers, Torch };

struct AdamWOptions {
  AdamWVariant variant = AdamWVariant::Transformers;
  double lr = 3e-5;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-6;
  double weight_decay = 0.0;
};

// The update's coefficients [b1, 1 - b1, b2, 1 - b2, eps, pre_decay, sqrt_bc2, step, post_decay, lerp]
// (ops/api.h) for step t
// (1-based) at learning rate `lr`, with or without weight decay. Throws InvalidArgument for t < 1 or a
// beta outside [0, 1), a negative eps, lr or decay.
std::array<double, kAdamWCoefficients> adamw_coefficients(const AdamWOptions& o, int64_t step, double lr,
                                                          bool decay);

// Learning-rate schedules as transformers' get_{constant,linear,cosine}_schedule_with_warmup: a factor of
// the base lr at 0-based step s (what LambdaLR passes), linear warm-up over `warmup_steps`, then constant,
// linear decay to 0 at `total_steps`, or half a cosine to 0 at `total_steps`.
enum class ScheduleKind { Constant, Linear, Cosine };
struct Schedule {
  ScheduleKind kind = ScheduleKind::Constant;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;  // Linear and Cosine only
};
double schedule_factor(const Schedule& s, int64_t step);

// Biases and LayerNorm weights: the names PyTorch practice exempts from weight decay.
bool decays_by_default(const std::string& param_name);

// The AdamW update appended to a graph: per parameter, persistent m and v ("adamw.m.<name>",
// "adamw.v.<name>", zero at start; StateKind::Optimizer) and one adamw_update node; two coefficient inputs
// ("adamw.decay", "adamw.no_decay") shared by the parameters of each group.
struct AdamWGraph {
  std::vector<std::string> moment_states;  // every m and v state's name (checkpoints save them)
  bool has_decay_group = false, has_no_decay_group = false;
  // Sets the coefficient inputs of a compiled graph for step t (1-based) at learning rate lr.
  void set_step(CompiledGraph& cg, const AdamWOptions& o, int64_t step, double lr) const;
};
AdamWGraph add_adamw(Graph& g, std::span<const Tensor> params, std::span<const Tensor> grads,
                     const std::function<bool(const std::string&)>& decays = decays_by_default);

// The same, one parameter at a time: a trainer adds each update as soon as its gradient is complete
// (engine/autodiff.h on_complete), so the gradient dies there.
class AdamWBuilder {
 public:
  explicit AdamWBuilder(Graph& g, std::function<bool(const std::string&)> decays = decays_by_default)
      : graph_(g), decays_(std::move(decays)) {}
  void add(Tensor param, Tensor grad);
  const AdamWGraph& result() const { return out_; }

 private:
  Graph& graph_;
  std::function<bool(const std::string&)> decays_;
  Tensor coeffs_[2];  // [no decay, decay], made when first needed
  AdamWGraph out_;
};

}  // namespace frost::train
