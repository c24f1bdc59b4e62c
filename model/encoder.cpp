#include "model/encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/error.h"
#include "model/dual_encoder.h"

// Dimension legend: N inputs, B batch, L tokens, F frames, S image side, P projection dim, C feature dim.

namespace frost::model {
namespace {

enum PartKey { kText = 0, kVideo = 1 };

// Rows a word-embedding table may have past its vocabulary (padding to a round size).
constexpr int64_t kMaxVocabPadding = 128;

// Copies rows [from, from + n) of `src` (any rank, rows on axis 0) into row `at` of `dst`.
void copy_rows(const HostTensor& src, int64_t from, int64_t n, HostTensor& dst, int64_t at) {
  const size_t row = src.bytes() / size_t(src.shape()[0]);
  std::memcpy(static_cast<char*>(dst.raw()) + size_t(at) * row,
              static_cast<const char*>(src.raw()) + size_t(from) * row, size_t(n) * row);
}

}  // namespace

bool vocabulary_fits(int64_t tokens, int64_t rows) {
  return tokens <= rows && tokens > rows - kMaxVocabPadding;
}

DualEncoder::DualEncoder(FitConfig config, WeightSet weights,
                         std::optional<loader::WordPieceTokenizer> tokenizer, EncoderOptions options)
    : config_(std::move(config)),
      weights_(std::make_shared<StateStore>(options.backend)),
      tokenizer_(std::move(tokenizer)),
      options_(std::move(options)) {
  config_.validate();
  // Taken, not copied: a tensor borrowed from a mapped file stays where it lies.
  for (auto& [name, t] : weights.tensors) weights_->adopt(name, StateKind::Parameter, std::move(t));
  FROST_CHECK(options_.batch_size > 0, InvalidArgument,
              "the batch size must be positive, got " << options_.batch_size);
  // A vocabulary fits its model when it fills the word-embedding table, up to the padding some models add
  // to round the table up (to a multiple of 8 or 64, say): a short or a longer vocabulary is the wrong one.
  if (tokenizer_) {
    const int64_t tokens = int64_t(tokenizer_->vocab_size()), rows = config_.text.vocab_size;
    FROST_CHECK(vocabulary_fits(tokens, rows), InvalidArgument,
                "the vocabulary has " << tokens << " tokens but the text model's word-embedding table has "
                                      << rows << " rows — give the vocabulary the weights were trained with");
  }
}

DualEncoder::~DualEncoder() = default;

CompiledGraph& DualEncoder::graph_for(int part, int64_t batch, int64_t n) {
  auto key = std::make_tuple(part, batch, n);
  auto it = cache_.find(key);
  if (it != cache_.end()) return *it->second;
  FitGraph fg = build_fit_graph(config_, part == kText ? FitGraphOptions{.part = Part::Text,
                                                                         .batch = batch,
                                                                         .text_length = n,
                                                                         .projection = options_.projection}
                                                       : FitGraphOptions{.part = Part::Video,
                                                                         .batch = batch,
                                                                         .frames = n,
                                                                         .projection = options_.projection});
  // Every parameter the graph declares must be held: a graph binding a state the store lacks would make
  // it, zero-filled.
  std::vector<std::string> absent;
  for (const Value& v : fg.graph->values())
    if (v.role == ValueRole::State && !weights_->contains(v.name)) absent.push_back(v.name);
  FROST_CHECK(absent.empty(), InvalidArgument,
              "the weight set has no values for " << absent.size()
                                                  << " parameters of the graph:" << list_some(absent));
  auto cg = compile(*fg.graph, {.backend = options_.backend, .states = weights_});
  return *cache_.emplace(key, std::move(cg)).first->second;
}

void DualEncoder::set_weights(const WeightSet& weights) {
  std::vector<std::string> absent;
  for (const std::string& name : weights_->names()) {
    auto it = weights.tensors.find(name);
    if (it == weights.tensors.end()) {
      absent.push_back(name);
      continue;
    }
    const TensorType& want = weights_->type(name);
    FROST_CHECK(it->second.dtype() == want.dtype && it->second.shape() == want.shape, InvalidArgument,
                "weight '" << name << "' is " << to_string(want) << " in the encoder, the new set's is "
                           << it->second.dtype() << it->second.shape());
  }
  FROST_CHECK(absent.empty(), InvalidArgument,
              "the weight set has no values for " << absent.size()
                                                  << " weights of the encoder:" << list_some(absent));
  for (const std::string& name : weights_->names()) weights_->set(name, weights.tensors.at(name));
}

size_t DualEncoder::weight_bytes() const {
  return weights_->bytes(StateKind::Parameter);
}

const loader::WordPieceTokenizer& DualEncoder::tokenizer() const {
  FROST_CHECK(tokenizer_.has_value(), InvalidArgument, "this encoder was built without a tokenizer");
  return *tokenizer_;
}

Embeddings DualEncoder::encode_text(const std::vector<std::string>& captions) {
  FROST_CHECK(tokenizer_.has_value(), InvalidArgument,
              "this encoder was built without a tokenizer, so it cannot encode text");
  const int64_t N = int64_t(captions.size()), P = options_.projection ? config_.projection_dim : 0,
                C = config_.text.dim;
  Embeddings out{HostTensor(DType::F32, {N, P}), HostTensor(DType::F32, {N, C})};
  const int64_t max_len = std::min(options_.max_text_length, config_.text.max_positions);
  for (int64_t at = 0; at < N; at += options_.batch_size) {
    const int64_t B = std::min(options_.batch_size, N - at);
    const std::vector<std::string> batch(captions.begin() + at, captions.begin() + at + B);
    loader::TokenBatch tb = tokenizer_->encode_batch(batch, {.max_length = max_len});
    const int64_t L0 = tb.input_ids.shape()[1];
    int64_t L = L0;
    if (!options_.text_length_buckets.empty()) {
      L = max_len;
      for (int64_t b : options_.text_length_buckets)
        if (b >= L0 && b < L) L = b;
    }
    if (L != L0) {  // padded up to the bucket: id 0 (as the tokenizer pads), mask 0
      HostTensor ids(DType::I64, {B, L}), mask(tb.attention_mask.dtype(), {B, L});
      const size_t mask_width = size_of(mask.dtype());
      for (int64_t r = 0; r < B; ++r) {
        std::memcpy(ids.data<int64_t>() + r * L, tb.input_ids.data<int64_t>() + r * L0,
                    size_t(L0) * sizeof(int64_t));
        std::memcpy(static_cast<char*>(mask.raw()) + size_t(r * L) * mask_width,
                    static_cast<const char*>(tb.attention_mask.raw()) + size_t(r * L0) * mask_width,
                    size_t(L0) * mask_width);
      }
      tb.input_ids = std::move(ids);
      tb.attention_mask = std::move(mask);
    }
    CompiledGraph& cg = graph_for(kText, B, L);
    cg.set_input("input_ids", tb.input_ids);
    cg.set_input("attention_mask", tb.attention_mask.to(DType::F32));
    if (config_.text.arch == TextArch::Bert) cg.set_input("token_type_ids", HostTensor(DType::I64, {B, L}));
    cg.run();
    if (options_.projection) copy_rows(cg.output_copy("text_embedding"), 0, B, out.embedding, at);
    copy_rows(cg.output_copy("text_features"), 0, B, out.features, at);
  }
  return out;
}

Embeddings DualEncoder::encode_clips(const HostTensor& clips) {
  const Shape& s = clips.shape();
  const VideoConfig& v = config_.video;
  FROST_CHECK(clips.dtype() == DType::F32 && s.rank() == 5 && s[1] >= 1 && s[1] <= v.num_frames &&
                  s[2] == v.channels && s[3] == v.image_size && s[4] == v.image_size,
              InvalidArgument,
              "clips must be F32 (N, F, " << v.channels << ", " << v.image_size << ", " << v.image_size
                                          << ") with 1 <= F <= " << v.num_frames << ", got " << clips.dtype()
                                          << s);
  const int64_t N = s[0], F = s[1], P = options_.projection ? config_.projection_dim : 0, C = v.dim;
  Embeddings out{HostTensor(DType::F32, {N, P}), HostTensor(DType::F32, {N, C})};
  for (int64_t at = 0; at < N; at += options_.batch_size) {
    const int64_t B = std::min(options_.batch_size, N - at);
    HostTensor batch(DType::F32, {B, F, s[2], s[3], s[4]});
    copy_rows(clips, at, B, batch, 0);
    CompiledGraph& cg = graph_for(kVideo, B, F);
    cg.set_input("video", batch);
    cg.run();
    if (options_.projection) copy_rows(cg.output_copy("video_embedding"), 0, B, out.embedding, at);
    copy_rows(cg.output_copy("video_features"), 0, B, out.features, at);
  }
  return out;
}

Embeddings DualEncoder::encode_videos(const std::vector<std::string>& paths, loader::ClipOptions clip) {
  if (clip.sampling.num_frames <= 0) clip.sampling.num_frames = config_.video.num_frames;
  clip.test_transform.size = config_.video.image_size;
  clip.train_transform.size = config_.video.image_size;
  const int64_t N = int64_t(paths.size()), F = clip.sampling.num_frames, S = config_.video.image_size;
  const int64_t P = options_.projection ? config_.projection_dim : 0, C = config_.video.dim;
  Embeddings out{HostTensor(DType::F32, {N, P}), HostTensor(DType::F32, {N, C})};
  // A batch of clips at a time: decoding and preprocessing hold one batch, not the whole collection.
  for (int64_t at = 0; at < N; at += options_.batch_size) {
    const int64_t B = std::min(options_.batch_size, N - at);
    HostTensor batch(DType::F32, {B, F, 3, S, S});
    for (int64_t b = 0; b < B; ++b) {
      clip.sampling.sample = uint64_t(at + b);
      const loader::Clip c = loader::load_clip(paths[size_t(at + b)], clip);
      std::memcpy(batch.data<float>() + b * c.pixels.numel(), c.pixels.raw(),
                  c.pixels.bytes());  // (F, 3, S, S)
    }
    const Embeddings e = encode_clips(batch);
    if (P > 0) copy_rows(e.embedding, 0, B, out.embedding, at);
    copy_rows(e.features, 0, B, out.features, at);
  }
  return out;
}

Embeddings DualEncoder::encode_videos_sliding(const std::vector<std::string>& paths, int64_t stride,
                                              loader::ClipOptions clip) {
  FROST_CHECK(stride > 0, InvalidArgument, "sliding windows: the stride must be positive, got " << stride);
  if (clip.sampling.num_frames <= 0) clip.sampling.num_frames = config_.video.num_frames;
  clip.test_transform.size = config_.video.image_size;
  clip.train_transform.size = config_.video.image_size;
  clip.sampling.mode = loader::FrameSampling::FixStart;
  const int64_t N = int64_t(paths.size()), F = clip.sampling.num_frames, S = config_.video.image_size;
  const int64_t P = options_.projection ? config_.projection_dim : 0, C = config_.video.dim;
  Embeddings out{HostTensor(DType::F32, {N, P}), HostTensor(DType::F32, {N, C})};
  for (int64_t v = 0; v < N; ++v) {
    const std::unique_ptr<loader::FrameSource> source =
        loader::open_frame_source(paths[size_t(v)], clip.limits);
    std::vector<int64_t> offsets;
    std::vector<double> sum_e, sum_f;
    // The windows of the video's frame count; if a read learns that the count is smaller (damaged data the
    // decoder rejects, loader::FrameCountChanged), the windows are laid out again from the true count.
    for (bool complete = false; !complete;) {
      const int64_t counted = source->frame_count();
      offsets = loader::fix_start_offsets(counted, F, stride);
      sum_e.assign(size_t(P), 0.0);
      sum_f.assign(size_t(C), 0.0);
      complete = true;
      for (size_t at = 0; at < offsets.size() && complete; at += size_t(options_.batch_size)) {  // in batches
        const int64_t B = std::min<int64_t>(options_.batch_size, int64_t(offsets.size() - at));
        HostTensor batch(DType::F32, {B, F, 3, S, S});
        for (int64_t b = 0; b < B && complete; ++b) {
          clip.sampling.fix_start = offsets[at + size_t(b)];
          const loader::Clip c = loader::load_clip(*source, clip);
          complete = source->frame_count() == counted;
          std::memcpy(batch.data<float>() + b * c.pixels.numel(), c.pixels.raw(), c.pixels.bytes());
        }
        if (!complete) break;
        const Embeddings e = encode_clips(batch);
        for (int64_t b = 0; b < B; ++b) {
          for (int64_t k = 0; k < P; ++k) sum_e[size_t(k)] += e.embedding.data<float>()[b * P + k];
          for (int64_t k = 0; k < C; ++k) sum_f[size_t(k)] += e.features.data<float>()[b * C + k];
        }
      }
    }
    const double n = double(offsets.size());
    for (int64_t k = 0; k < P; ++k) out.embedding.data<float>()[v * P + k] = float(sum_e[size_t(k)] / n);
    for (int64_t k = 0; k < C; ++k) out.features.data<float>()[v * C + k] = float(sum_f[size_t(k)] / n);
  }
  return out;
}

Embeddings DualEncoder::encode_images(const std::vector<std::string>& paths,
                                      const loader::VideoLimits& limits) {
  for (const std::string& p : paths)
    FROST_CHECK(loader::is_image_file(p), BadFile,
                p << ": not a PNG or JPEG image (videos and frame folders are encoded as videos)");
  loader::ClipOptions clip;
  clip.sampling.num_frames = 1;
  clip.limits = limits;
  return encode_videos(paths, clip);
}

HostTensor similarity(const HostTensor& a, const HostTensor& b, double eps) {
  FROST_CHECK(a.dtype() == DType::F32 && b.dtype() == DType::F32 && a.shape().rank() == 2 &&
                  b.shape().rank() == 2 && a.shape()[1] == b.shape()[1],
              InvalidArgument,
              "cosine similarity needs F32 (A, P) and (B, P), got " << a.shape() << " and " << b.shape());
  const int64_t A = a.shape()[0], B = b.shape()[0], P = a.shape()[1];
  auto inv_norms = [&](const HostTensor& t, int64_t rows) {
    std::vector<double> r(static_cast<size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) {
      double s = 0;
      for (int64_t k = 0; k < P; ++k) s += double(t.data<float>()[i * P + k]) * t.data<float>()[i * P + k];
      r[size_t(i)] = 1.0 / std::max(std::sqrt(s), eps);
    }
    return r;
  };
  const std::vector<double> na = inv_norms(a, A), nb = inv_norms(b, B);
  HostTensor out(DType::F32, {A, B});
  for (int64_t i = 0; i < A; ++i)
    for (int64_t j = 0; j < B; ++j) {
      double dot = 0;
      for (int64_t k = 0; k < P; ++k) dot += double(a.data<float>()[i * P + k]) * b.data<float>()[j * P + k];
      out.data<float>()[i * B + j] = float(dot * na[size_t(i)] * nb[size_t(j)]);
    }
  return out;
}

}  // namespace frost::model
