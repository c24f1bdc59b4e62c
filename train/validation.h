// Retrieval evaluation of the dual encoder on a dataset (loader/dataset.h), as the reference's test.py
// reports it (retrieval/metrics.h): every caption ranks all the dataset's readable videos, every video ranks
// all captions (its best caption counts). `frost eval`, `frost train --val`, `frost demo` and the learning
// test share it.
//
//   RetrievalResult r = evaluate_retrieval(encoder, read_dataset("val.jsonl"), {});
//   r.metrics.t2v.R1;   r.text_embedding;   // (captions, P), in the order of r.text_rows
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "loader/dataset.h"
#include "loader/video.h"
#include "model/encoder.h"
#include "retrieval/metrics.h"

namespace frost::train {

struct RetrievalOptions {
  int64_t frames = 0;  // frames per video clip; 0 = the config's num_frames (images: 1)
  // 'uniform' (frost's default: the same clip every time) or 'rand' (the reference validates with it, from
  // Philox(seed, video index)).
  loader::FrameSampling sampling = loader::FrameSampling::Uniform;
  uint64_t seed = 0;
  int64_t stride = 0;  // > 0: test.py -s STRIDE sliding windows, their embeddings averaged per video
  retrieval::Ties t2v_ties = retrieval::Ties::Optimistic;  // the reference's
  retrieval::Ties v2t_ties = retrieval::Ties::Averaged;
  // Called for each video that cannot be read (it is left out with its captions); may throw to stop.
  std::function<void(const std::string&)> on_skip;
  // Damaged data read anyway, as the reference's libraries read it (loader/image.h); unset, it is refused
  // and the video skipped.
  loader::WarningSink on_warning;
};

struct RetrievalResult {
  retrieval::Evaluation metrics;
  HostTensor text_embedding;           // F32 (T, P), unnormalised, one per caption of a readable video
  HostTensor video_embedding;          // F32 (V, P), one per readable video
  std::vector<int64_t> video_of_text;  // per caption: its row in video_embedding
  std::vector<int64_t> text_rows;      // per caption: its dataset row
  std::vector<int64_t> videos;         // per video row: its index in the dataset's videos
  int64_t skipped_videos = 0;
};

// Throws BadFile when no video can be read; a problem that is not the input's (Internal, Unsupported)
// propagates at once.
RetrievalResult evaluate_retrieval(model::DualEncoder& encoder, const loader::Dataset& data,
                                   const RetrievalOptions& options);

}  // namespace frost::train
