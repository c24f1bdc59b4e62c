#include "model/dual_encoder.h"

#include "engine/error.h"
#include "engine/passes/passes.h"
#include "model/layers.h"
#include "model/text_encoder.h"
#include "model/video_encoder.h"
#include "ops/api.h"

namespace frost::model {

Tensor text_projection(Params& p, const FitConfig& c, Tensor text_embedding) {
  return linear(p, "txt_proj.1", relu(text_embedding), c.text.dim, c.projection_dim);
}

Tensor video_projection(Params& p, const FitConfig& c, Tensor video_feature) {
  return linear(p, "vid_proj.0", video_feature, c.video.dim, c.projection_dim);
}

Tensor cosine_similarity(Tensor a, Tensor b, double eps) {
  return matmul(l2_normalize(a, eps), l2_normalize(b, eps), false, /*trans_b=*/true);
}

Tensor norm_softmax_loss(Tensor sim, double temperature) {
  Graph& g = *sim.graph;
  Tensor t = fill(g, {}, sim.dtype(), temperature);
  Tensor text_to_video = mean(diagonal(log_softmax(sim / t)));
  Tensor video_to_text = mean(diagonal(log_softmax(transpose(sim, 0, 1) / t)));
  return neg(text_to_video) - video_to_text;
}

FitGraph build_fit_graph(const FitConfig& c, const FitGraphOptions& o) {
  c.validate();
  FROST_CHECK(o.batch > 0, InvalidArgument, "batch must be positive, got " << o.batch);
  FROST_CHECK(o.projection || !(o.part == Part::Dual && o.loss), InvalidArgument,
              "the dual encoder's loss compares projected embeddings: it needs the projections");
  FitGraph fg;
  fg.graph = std::make_unique<Graph>();
  fg.params = std::make_unique<Params>(*fg.graph);
  Graph& g = *fg.graph;
  Params& p = *fg.params;
  Tensor text_emb, video_emb;
  if (o.part != Part::Video) {
    FROST_CHECK(o.text_length > 0, InvalidArgument, "text_length must be positive");
    const TextInputs in = text_inputs(g, c.text, o.batch, o.text_length);
    TextDropout drop{.hidden = o.dropout, .attention = o.attention_dropout, .seed = o.dropout_seed};
    if (drop.active()) drop.offset = g.input("dropout.offset", DType::I64, {});
    const TextOutputs out = text_encoder(p, c.text, in, "text_model.", drop);
    g.output("text_features", out.embedding);
    if (o.projection) {
      text_emb = text_projection(p, c, out.embedding);
      g.output("text_embedding", text_emb);
    }
  }
  if (o.part != Part::Text) {
    const int64_t F = o.frames > 0 ? o.frames : c.video.num_frames;
    const int64_t S = c.video.image_size;
    Tensor clips = g.input("video", DType::F32, {o.batch, F, c.video.channels, S, S});
    Tensor feat = video_encoder(p, c.video, clips, "video_model.");
    g.output("video_features", feat);
    if (o.projection) {
      video_emb = video_projection(p, c, feat);
      g.output("video_embedding", video_emb);
    }
  }
  if (o.part == Part::Dual && o.loss) {
    Tensor sim = cosine_similarity(text_emb, video_emb, c.similarity_eps);
    g.output("similarity", sim);
    fg.loss = norm_softmax_loss(sim, c.temperature);
    g.output("loss", fg.loss);
  }
  // Before the caller's gradients(): the backward then differentiates the fused ops. Gelu stays out of the
  // linears here (the fused op has no backward); compile() folds it in where nothing differentiates it.
  if (o.fuse) fuse(g, {.activation_epilogues = false});
  return fg;
}

}  // namespace frost::model
