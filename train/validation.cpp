#include "train/validation.h"

#include <cstring>

#include "engine/error.h"
#include "loader/files.h"
#include "loader/image.h"

namespace frost::train {

RetrievalResult evaluate_retrieval(model::DualEncoder& encoder, const loader::Dataset& data,
                                   const RetrievalOptions& o) {
  const model::FitConfig& config = encoder.config();
  const int64_t F = o.frames > 0 ? o.frames : config.video.num_frames, S = config.video.image_size;
  const int64_t batch = encoder.options().batch_size;
  FROST_CHECK(F <= config.video.num_frames, InvalidArgument,
              "frames " << F << ": the model of config '" << config.name << "' takes 1 to "
                        << config.video.num_frames << " frames per clip");
  RetrievalResult out;
  std::vector<int64_t> kept_index(data.videos.size(), -1);
  out.video_embedding = HostTensor(DType::F32, {0, config.projection_dim});
  // Appends embedding rows e (one per video in `vids`).
  auto append_rows = [&](const HostTensor& e, const std::vector<int64_t>& vids) {
    const int64_t P = e.shape()[1], before = out.video_embedding.shape()[0];
    HostTensor grown(DType::F32, {before + e.shape()[0], P});
    if (before > 0) std::memcpy(grown.raw(), out.video_embedding.raw(), out.video_embedding.bytes());
    std::memcpy(static_cast<char*>(grown.raw()) + size_t(before * P) * sizeof(float), e.raw(), e.bytes());
    out.video_embedding = std::move(grown);
    for (int64_t v : vids) {
      kept_index[size_t(v)] = int64_t(out.videos.size());
      out.videos.push_back(v);
    }
  };
  // Clips wait in one batch per frame count (videos F, images 1): a compiled graph has one shape.
  struct Pending {
    int64_t frames;
    std::vector<loader::Clip> clips;
    std::vector<int64_t> videos;
  };
  Pending videos{F, {}, {}}, images{1, {}, {}};
  auto flush = [&](Pending& p) {
    if (p.clips.empty()) return;
    HostTensor clips(DType::F32, {int64_t(p.clips.size()), p.frames, 3, S, S});
    const size_t bytes = size_t(p.frames * 3 * S * S) * sizeof(float);
    for (size_t i = 0; i < p.clips.size(); ++i)
      std::memcpy(static_cast<char*>(clips.raw()) + i * bytes, p.clips[i].pixels.raw(), bytes);
    append_rows(encoder.encode_clips(clips).embedding, p.videos);
    p.clips.clear();
    p.videos.clear();
  };
  for (size_t v = 0; v < data.videos.size(); ++v) {
    const std::string& path = data.videos[v];
    const bool image = loader::is_image_file(path);
    Pending& p = image ? images : videos;
    loader::ClipOptions clip;
    clip.sampling.num_frames = p.frames;
    clip.sampling.mode = o.sampling;
    clip.sampling.seed = o.seed;
    clip.sampling.sample = uint64_t(v);
    clip.test_transform.size = S;
    clip.limits.on_warning = o.on_warning;
    try {
      const loader::FileKind kind = loader::file_kind(path);
      FROST_CHECK(kind == loader::FileKind::Regular || kind == loader::FileKind::Directory, BadFile,
                  path << " is " << loader::describe_path(path));
      if (o.stride > 0 && !image) {  // the mean of the video's windows, encoded apart
        append_rows(encoder.encode_videos_sliding({path}, o.stride, clip).embedding, {int64_t(v)});
        continue;
      }
      p.clips.push_back(loader::load_clip(path, clip));
      p.videos.push_back(int64_t(v));
    } catch (const Error& e) {
      if (e.category() == ErrorCategory::Internal || e.category() == ErrorCategory::Unsupported) throw;
      std::string why = e.what();
      if (why.rfind(path, 0) != 0) why = path + ": " + why;
      ++out.skipped_videos;
      if (o.on_skip) o.on_skip("skipping " + why + " (and its captions)");
      continue;
    }
    if (int64_t(p.clips.size()) == batch) flush(p);
  }
  flush(videos);
  flush(images);
  FROST_CHECK(!out.videos.empty(), BadFile,
              "none of the " << data.videos.size() << " videos of " << data.path << " could be read");
  std::vector<std::string> captions;
  for (size_t r = 0; r < data.rows.size(); ++r) {
    const int64_t k = kept_index[size_t(data.video_of_row[r])];
    if (k < 0) continue;
    captions.push_back(data.rows[r].caption);
    out.video_of_text.push_back(k);
    out.text_rows.push_back(int64_t(r));
  }
  out.text_embedding = encoder.encode_text(captions).embedding;
  out.metrics =
      retrieval::evaluate(out.text_embedding, out.video_embedding, out.video_of_text, o.t2v_ties, o.v2t_ties);
  return out;
}

}  // namespace frost::train
