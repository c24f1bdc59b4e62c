// The training step of the dual encoder (../shared/spec/frozen-in-time.md §3.3–3.5) as compiled graphs
// over one shared state store (engine/state_store.h): parameters, AdamW moments and — with accumulation —
// gradient accumulators live there; the graphs read and update them in place.
//
//   Trainer t(FitConfig::tiny(), {.batch = 4, .text_length = 8, .adamw = {.lr = 1e-3}});
//   t.set_weights(load_weights(cfg, {{"init.safetensors"}}));
//   for (...) { StepResult r = t.step({&batch, 1}); }   // one MicroBatch per accumulation step
//   t.save_checkpoint("run/step-100.safetensors");      // resumable: weights, moments, step, RNG, config
//   t.export_inference("model.safetensors");            // `module.`-prefixed: the reference loads it
//
// One optimiser step, accumulation K:
//   K = 1   one graph: forward, NormSoftmax loss, backward, the gradient's global L2 norm, [clipping],
//           AdamW of every trainable parameter. Without clipping each parameter's update is placed right
//           after its gradient is complete (autodiff's on_complete), so the gradient dies there and lives
//           in the activations arena; clipping needs the norm of all of them first, so they are held.
//   K > 1   a micro-step graph run K times (forward, loss, backward; each gradient added into a persistent
//           accumulator "grad.<name>" in the optimizer arena as soon as it is complete), then an update
//           graph (norm, [clipping], AdamW, accumulators zeroed). The step's loss and gradient are the SUMS
//           over the K micro-batches, each micro-batch with only its own in-batch negatives — as K calls
//           of loss.backward() in PyTorch; it is not the loss of one batch of K·B pairs.
// Frozen parameters (by name prefix: "text_model." freezes the text encoder) get no gradient computed and
// no optimiser state. Clipping is torch.nn.utils.clip_grad_norm_(max_norm): every gradient scaled by
// min(1, max_norm / (norm + 1e-6)).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/compiled_graph.h"
#include "engine/error.h"
#include "engine/state_store.h"
#include "model/config.h"
#include "model/weights.h"
#include "train/adamw.h"

namespace frost::train {

struct TrainOptions {
  int64_t batch = 0;         // pairs per micro-batch (its in-batch negatives), > 0
  int64_t text_length = 0;   // tokens per caption, > 0
  int64_t frames = 0;        // frames per clip; 0 = the config's num_frames
  int64_t accumulation = 1;  // micro-batches per optimiser step
  AdamWOptions adamw;
  Schedule schedule;                // the learning rate at step t (1-based) is adamw.lr · factor(t - 1)
  bool decay_everything = false;    // weight decay on biases and LayerNorm weights too (default: excluded)
  double clip_norm = 0.0;           // > 0: clip by the global L2 norm
  std::vector<std::string> frozen;  // parameter-name prefixes not trained; each must match a parameter
  double dropout = 0.0;             // the text encoder's hidden dropout (DistilBERT trains with 0.1)
  double attention_dropout = 0.0;   // its attention probabilities' (0.1), inside the fused attention op
  uint64_t seed = 0;                // the dropout masks' Philox key
  CompileOptions compile;           // backend, kernels; `states` is the trainer's own
  // Throws InvalidArgument naming the option.
  void validate() const;
};

// One micro-batch: pair i is (caption i, clip i).
struct MicroBatch {
  HostTensor input_ids;                 // I64 (B, L)
  HostTensor attention_mask;            // F32 (B, L): 1 token, 0 padding
  HostTensor token_type_ids;            // I64 (B, L): BERT configs only
  HostTensor video;                     // F32 (B, F, 3, S, S), normalised frames
  std::vector<std::string> sample_ids;  // optional; named when the step fails
};

struct StepResult {
  int64_t step = 0;        // optimiser steps done, this one included
  double loss = 0.0;       // summed over the micro-batches
  double grad_norm = 0.0;  // global L2 norm of the (summed) gradient, before clipping
  double lr = 0.0;         // the learning rate this step used
};

// A non-finite loss or gradient norm: training stops; the weights after this step are not to be used.
class Diverged : public Error {
 public:
  Diverged(const std::string& message, int64_t step)
      : Error(ErrorCategory::InvalidArgument, message), step_(step) {}
  int64_t step() const { return step_; }

 private:
  int64_t step_;
};

// The graphs of a training step, built but not compiled: the trainer compiles them; `frost plan --train`
// plans them without allocating.
struct TrainingGraphs {
  Graph step;                     // K = 1: the whole step; K > 1: the micro-step
  std::unique_ptr<Graph> update;  // K > 1 only
  AdamWGraph adam;                // of the graph that updates
  std::vector<std::string> param_names, trainable_names;
  std::vector<ValueId> gradient_values;  // in `step`: each trainable parameter's complete gradient
  bool dropout_active = false;
};
TrainingGraphs build_training_graphs(const model::FitConfig& config, const TrainOptions& options);
// Where the gradients live with these options: "activations, each consumed by its parameter's update as
// soon as it is complete", "activations, all held until the clipping norm is known", or "optimizer arena
// (accumulators)".
std::string gradient_placement(const TrainOptions& options);

class Trainer {
 public:
  // Builds and compiles the graphs; parameters start at zero until set_weights or load_checkpoint.
  Trainer(model::FitConfig config, TrainOptions options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  const model::FitConfig& config() const { return config_; }
  const TrainOptions& options() const { return options_; }

  // Sets every parameter (the set must hold all of them); optimiser state and the step count unchanged.
  void set_weights(const model::WeightSet& weights);

  // One optimiser step on exactly `accumulation` micro-batches of the trainer's shapes — except the frame
  // count, which may differ from options().frames (up to the config's num_frames): a micro-batch of
  // another frame count runs on the step graph of that count, compiled on first use over the same state
  // store, so steps may alternate between images (1 frame) and videos, as the reference's multi-source
  // training does. Throws
  // InvalidArgument for a wrong count or shape (nothing changed then), Diverged when the loss or the
  // gradient norm is not finite (the update has run: resume from the last checkpoint).
  StepResult step(std::span<const MicroBatch> micro_batches);
  int64_t step_count() const { return step_; }

  // Canonical parameter names (checkpoint names without `module.`), all and those trained.
  const std::vector<std::string>& parameter_names() const { return param_names_; }
  const std::vector<std::string>& trainable_names() const { return trainable_names_; }
  HostTensor parameter(const std::string& name) const;
  // Every parameter's current value (for validation through model::DualEncoder, or exporting).
  model::WeightSet weights() const;
  const StateStore& states() const { return *store_; }

  // A resumable checkpoint (safetensors, written atomically: a failure leaves any previous file intact):
  // every parameter under its canonical name, the AdamW moments ("adamw.m.<name>", "adamw.v.<name>"), and
  // metadata "frost.training": the step, the dropout RNG position, the config (FitConfig::to_json) and the
  // options. Accumulators are zero between steps and not saved.
  void save_checkpoint(const std::string& path) const;
  // Restores parameters, moments, step and RNG position from a checkpoint of save_checkpoint. Refused
  // (BadFile, naming the field or tensor) when the checkpoint's config differs from this trainer's, when
  // its set of trained parameters differs (other frozen prefixes), or when a tensor is missing or
  // mis-shaped, when its AdamW variant or betas differ (the moments would mean something else), or, with
  // dropout, when its dropout seed differs; nothing is changed then. Learning rate, eps, weight decay,
  // schedule, clipping and accumulation are this trainer's options: a resume may change them (the metadata
  // records what the checkpoint was trained with). Accumulators are zeroed.
  void load_checkpoint(const std::string& path);
  // The parameters alone, as the reference's checkpoints name them (`module.` + canonical name): the
  // reference model's state_dict with the pinned transformers has exactly these (position_ids is a
  // non-persistent buffer there), so torch's load_state_dict(strict=True) accepts the file.
  void export_inference(const std::string& path) const;
  // The names and shapes export_inference writes for config `c`, in sorted order (tests compare them with
  // the reference model's state_dict).
  static std::vector<std::pair<std::string, Shape>> inference_names(const model::FitConfig& c);
  // Metadata written beside frost's own into every checkpoint and export from now on — the vocabulary the
  // captions were tokenized with ("frost.vocab"), so the files carry what a command needs to use them.
  // frost's own keys (format, frost.config, frost.step, frost.video_hash, frost.training) are refused.
  void set_file_metadata(std::map<std::string, std::string> metadata);

  // A stop request (from a signal handler: async-signal-safe). The library never stops by itself; a
  // training loop checks stop_requested() between steps and writes a checkpoint (run_training does).
  void request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  bool stop_requested() const noexcept { return stop_.load(std::memory_order_relaxed); }
  void clear_stop() noexcept { stop_.store(false, std::memory_order_relaxed); }

  // The compiled graphs: the step graph (K = 1) or micro-step graph, and the update graph (null for K = 1).
  // For plans, reports and the allocation test; step() is how training runs them.
  CompiledGraph& step_graph() const { return *micro_; }
  CompiledGraph* update_graph() const { return update_.get(); }
  // The compiled graphs' step lists and memory plans.
  std::string report() const;
  std::string gradient_placement() const { return train::gradient_placement(options_); }

 private:
  std::map<std::string, std::string> file_metadata_;
  void bind_batch(CompiledGraph& cg, const MicroBatch& b) const;
  // The micro-step graph for a micro-batch's frame count; compiled on first use.
  CompiledGraph& micro_graph_for(const MicroBatch& b);
  static int64_t frames_of(const CompiledGraph& cg);
  model::FitConfig config_;
  TrainOptions options_;
  std::shared_ptr<StateStore> store_;
  std::unique_ptr<CompiledGraph> micro_;   // K = 1: the whole step; K > 1: forward + backward + accumulate
  std::unique_ptr<CompiledGraph> update_;  // K > 1 only
  // Step (K = 1) or micro-step graphs at other frame counts than options_.frames, by frame count.
  std::map<int64_t, std::unique_ptr<CompiledGraph>> other_micro_;
  AdamWGraph adam_;  // of the graph that updates
  std::vector<std::string> param_names_, trainable_names_;
  bool dropout_active_ = false;
  int64_t step_ = 0;         // optimiser steps done
  int64_t micro_steps_ = 0;  // micro-batches run: the dropout masks' Philox stream
  std::atomic<bool> stop_{false};
};

// A training loop with the safety the trainer's users need: `batches(step)` gives step's micro-batches
// (step 1-based); a checkpoint every `checkpoint_every` steps and at the end (when `checkpoint_path` is
// set and a step ran); a stop request ends the loop after the current step with a checkpoint (and is
// cleared, so a later call continues); a non-finite loss or gradient norm throws Diverged naming the
// step, the batch's sample ids and the last good checkpoint.
struct LoopOptions {
  int64_t steps = 0;  // run until step_count() reaches this
  int64_t checkpoint_every = 0;
  std::string checkpoint_path;  // "" = no checkpoints
  std::function<void(const StepResult&)> on_step;
};
enum class LoopEnd { Finished, Stopped };
LoopEnd run_training(Trainer& trainer, const std::function<std::vector<MicroBatch>(int64_t step)>& batches,
                     const LoopOptions& options);

}  // namespace frost::train
