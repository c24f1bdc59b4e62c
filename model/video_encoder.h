// The video side of Frozen in Time: the SpaceTimeTransformer (../shared/spec/frozen-in-time.md §1), built
// from primitives exactly as the reference computes it — patch embedding, a CLS token without a temporal
// term, the spatial table repeated per frame plus the temporal table repeated per patch and cut to the
// clip's frame count, and blocks of time attention (norm3) → space attention on norm1(x + t) with the
// residual added to x → MLP (norm2), where the CLS query attends to every token and the CLS key/value are
// prepended to every time group and every space group. Parameter names are the reference's under `prefix`
// ("video_model." in a Frozen in Time checkpoint), so timm ViT names map 1:1.
//
//   Tensor clips = g.input("video", DType::F32, {B, F, 3, 224, 224});   // F <= num_frames
//   Tensor feat = video_encoder(p, cfg.video, clips, "video_model.");  // (B, 768): final norm, CLS
#pragma once

#include <string>

#include "model/config.h"
#include "model/params.h"

namespace frost::model {

// clips (B, F, C, H, W) with F <= c.num_frames and H = W = c.image_size → (B, c.dim).
Tensor video_encoder(Params& p, const VideoConfig& c, Tensor clips, const std::string& prefix);

}  // namespace frost::model
