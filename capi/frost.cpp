// The C API (include/frost/frost.h) over the model, loader and retrieval layers. Every entry point catches
// everything: a frost::Error becomes its category's status and the thread's last error; nothing escapes
// into C. Only frost_* symbols leave the shared library (capi/frost.map, hidden visibility).
#include "frost/frost.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <shared_mutex>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/error.h"
#include "engine/threads.h"
#include "loader/embedded_data.h"
#include "loader/image.h"
#include "loader/preprocess.h"
#include "loader/video.h"
#include "model/encoder.h"
#include "model/model_files.h"
#include "retrieval/index.h"
#include "retrieval/search.h"
#include "retrieval/similarity.h"

using frost::DType;
using frost::Error;
using frost::ErrorCategory;
using frost::HostTensor;

namespace {

thread_local std::string t_last_error;

// Thrown inside a call when the progress callback asks to stop.
struct Cancelled {
  size_t done, total;
};

frost_status status_of(ErrorCategory c) {
  switch (c) {
    case ErrorCategory::InvalidArgument:
      return FROST_INVALID_ARGUMENT;
    case ErrorCategory::BadFile:
      return FROST_BAD_FILE;
    case ErrorCategory::Unsupported:
      return FROST_UNSUPPORTED;
    case ErrorCategory::Io:
      return FROST_IO;
    case ErrorCategory::Numerical:
      return FROST_NUMERICAL;
    case ErrorCategory::Internal:
      return FROST_INTERNAL;
  }
  return FROST_INTERNAL;
}

frost_status fail(frost_status status, std::string message) {
  t_last_error = std::move(message);
  return status;
}

// Runs `body` for the entry point `fn`, turning every exception into a status and the thread's last error.
template <class Body>
frost_status guarded(const char* fn, Body&& body) {
  try {
    body();
    return FROST_OK;
  } catch (const Error& e) {
    return fail(status_of(e.category()), std::string(fn) + ": " + e.what());
  } catch (const Cancelled& c) {
    return fail(FROST_CANCELLED, std::string(fn) + ": cancelled by the progress callback after " +
                                     std::to_string(c.done) + " of " + std::to_string(c.total) + " inputs");
  } catch (const std::bad_alloc&) {
    return fail(FROST_OUT_OF_MEMORY, std::string(fn) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(FROST_INTERNAL, std::string(fn) + ": " + e.what());
  } catch (...) {
    return fail(FROST_INTERNAL, std::string(fn) + ": an unknown exception");
  }
}

void require(const void* p, const char* what) {
  FROST_CHECK(p != nullptr, InvalidArgument, what << " is NULL");
}

// Rows of `dim` floats for `count` inputs must fit `capacity` floats (no overflow on the way).
void require_room(size_t count, size_t dim, size_t capacity, const char* what) {
  FROST_CHECK(dim == 0 || count <= capacity / dim, InvalidArgument,
              what << " holds " << capacity << " floats; " << count << " rows of " << dim << " need "
                   << (count > SIZE_MAX / std::max<size_t>(dim, 1) ? std::string("more")
                                                                   : std::to_string(count * dim)));
}

std::vector<std::string> strings_of(const char* const* items, size_t count, const char* what) {
  if (count > 0) require(items, what);
  std::vector<std::string> out;  // count is bounded by the output's room, checked first
  for (size_t i = 0; i < count; ++i) {
    FROST_CHECK(items[i] != nullptr, InvalidArgument, what << "[" << i << "] is NULL");
    out.emplace_back(items[i]);
  }
  return out;
}

}  // namespace

// ---- the model -------------------------------------------------------------------------------------------

struct frost_model {
  std::string weights_path;
  frost::model::FitConfig config;
  std::string config_json;
  std::string backend = "cpu";
  int threads = 0;
  int64_t batch_size = 8;
  frost_towers towers = FROST_TOWERS_BOTH;
  frost_log_fn log = nullptr;
  void* log_user = nullptr;
  frost_progress_fn progress = nullptr;
  void* progress_user = nullptr;
  std::unique_ptr<frost::model::DualEncoder> encoder;
  std::optional<std::string> video_hash;  // computed on first need (an index)
  // Encoding calls are serialised: the encoder's graph cache and compiled graphs are not re-entrant.
  std::mutex mutex;

  void say(frost_log_level level, const std::string& message) const {
    if (log != nullptr) log(log_user, level, message.c_str());
  }
  frost::model::Diagnostics diagnostics() const {
    return {.note = [this](const std::string& m) { say(FROST_LOG_NOTE, m); },
            .warn = [this](const std::string& m) { say(FROST_LOG_WARNING, m); },
            .config_option = "options.config",
            .vocab_option = "options.vocab"};
  }
  // After each batch: `done` of `total`; throws Cancelled when the callback says stop.
  void report(size_t done, size_t total) const {
    if (progress != nullptr && progress(progress_user, done, total) != 0) throw Cancelled{done, total};
  }
  size_t dim() const { return size_t(config.projection_dim); }
  // Refuses a call that needs a tower this model was opened without, before any input is read.
  void require_tower(frost_towers needed) const {
    FROST_CHECK(towers == FROST_TOWERS_BOTH || towers == needed, InvalidArgument,
                "this model was opened with "
                    << (towers == FROST_TOWERS_TEXT ? "FROST_TOWERS_TEXT: it has no video tower"
                                                    : "FROST_TOWERS_VIDEO: it has no text tower"));
  }
  const std::string& hash() {
    if (!video_hash) {
      video_hash = frost::model::recorded_video_hash(weights_path);
      if (video_hash->empty())
        video_hash = frost::model::video_hash_of(
            weights_path,
            frost::model::load_towers(config, weights_path, frost::model::Towers::Video, diagnostics()),
            diagnostics());
    }
    return *video_hash;
  }
};

namespace {

// The OpenMP team of this call: the model's thread count on the calling thread, restored afterwards.
struct CallThreads {
  std::optional<frost::ThreadScope> scope;
  explicit CallThreads(const frost_model& m) {
    if (m.threads > 0) scope.emplace(m.threads);
  }
};

// Warnings from loading threads, delivered on the calling thread after each batch.
struct WarningQueue {
  std::mutex mutex;
  std::vector<std::string> pending;
  frost::loader::WarningSink sink() {
    return [this](const std::string& m) {
      std::lock_guard<std::mutex> lock(mutex);
      pending.push_back(m);
    };
  }
  void deliver(const frost_model& m) {
    std::vector<std::string> now;
    {
      std::lock_guard<std::mutex> lock(mutex);
      now.swap(pending);
    }
    for (const std::string& w : now) m.say(FROST_LOG_WARNING, w);
  }
};

void write_rows(const HostTensor& embedding, size_t first_row, float* out) {
  std::memcpy(out + first_row * size_t(embedding.shape()[1]), embedding.raw(), embedding.bytes());
}

// Video files, frame folders and images at `paths` → rows of `out` (dim floats each), a batch at a time:
// videos as clips of the model's frame count, images as one-frame clips (the reference's image path).
// `frames`, when given, receives each input's sampled frame indices.
void encode_paths(frost_model& m, const std::vector<std::string>& paths, bool images_only, float* out,
                  std::vector<std::vector<int64_t>>* frames) {
  const int64_t F = m.config.video.num_frames, S = m.config.video.image_size;
  WarningQueue warnings;
  if (frames != nullptr) frames->assign(paths.size(), {});
  for (size_t at = 0; at < paths.size(); at += size_t(m.batch_size)) {
    const size_t n = std::min(paths.size() - at, size_t(m.batch_size));
    // Two groups by frame count, each encoded as one batch, rows scattered back in input order.
    for (const bool image_group : {false, true}) {
      std::vector<size_t> rows;
      for (size_t i = at; i < at + n; ++i) {
        const bool image = frost::loader::is_image_file(paths[i]);
        FROST_CHECK(!images_only || image, BadFile,
                    paths[i] << ": not a PNG or JPEG image (videos and frame folders: frost_encode_videos)");
        if (image == image_group) rows.push_back(i);
      }
      if (rows.empty()) continue;
      const int64_t frames_per_clip = image_group ? 1 : F;
      HostTensor batch(DType::F32, {int64_t(rows.size()), frames_per_clip, 3, S, S});
      for (size_t r = 0; r < rows.size(); ++r) {
        frost::loader::ClipOptions clip;
        clip.sampling.num_frames = frames_per_clip;
        clip.sampling.sample = uint64_t(rows[r]);
        clip.test_transform.size = S;
        clip.limits.on_warning = warnings.sink();
        frost::loader::Clip c = frost::loader::load_clip(paths[rows[r]], clip);
        std::memcpy(batch.data<float>() + int64_t(r) * c.pixels.numel(), c.pixels.raw(), c.pixels.bytes());
        if (frames != nullptr) (*frames)[rows[r]] = std::move(c.indices);
      }
      const HostTensor e = m.encoder->encode_clips(batch).embedding;
      for (size_t r = 0; r < rows.size(); ++r)
        std::memcpy(out + rows[r] * m.dim(), e.data<float>() + r * m.dim(), m.dim() * sizeof(float));
    }
    warnings.deliver(m);
    m.report(at + n, paths.size());
  }
}

frost_model& model_of(frost_model* m) {
  require(m, "model");
  return *m;
}

// frost_encode_videos and frost_encode_images: checks, then encode_paths under the model's lock.
void encode_files(frost_model* model, const char* const* paths, size_t count, float* embeddings,
                  size_t capacity, bool images_only) {
  frost_model& m = model_of(model);
  m.require_tower(FROST_TOWERS_VIDEO);
  require_room(count, m.dim(), capacity, "embeddings");
  const std::vector<std::string> inputs = strings_of(paths, count, "paths");
  if (count > 0) require(embeddings, "embeddings");
  std::lock_guard<std::mutex> lock(m.mutex);
  const CallThreads threads(m);
  encode_paths(m, inputs, images_only, embeddings, nullptr);
}

}  // namespace

extern "C" {

const char* frost_version(void) {
  return FROST_VERSION;
}

int frost_api_version(void) {
  return FROST_API_VERSION;
}

const char* frost_status_name(frost_status status) {
  switch (status) {
    case FROST_OK:
      return "FROST_OK";
    case FROST_INVALID_ARGUMENT:
      return "FROST_INVALID_ARGUMENT";
    case FROST_BAD_FILE:
      return "FROST_BAD_FILE";
    case FROST_UNSUPPORTED:
      return "FROST_UNSUPPORTED";
    case FROST_IO:
      return "FROST_IO";
    case FROST_NUMERICAL:
      return "FROST_NUMERICAL";
    case FROST_CANCELLED:
      return "FROST_CANCELLED";
    case FROST_OUT_OF_MEMORY:
      return "FROST_OUT_OF_MEMORY";
    case FROST_INTERNAL:
      return "FROST_INTERNAL";
    case FROST_STATUS_FORCE_INT32:  // not a status
      break;
  }
  return "unknown";
}

const char* frost_last_error(void) {
  return t_last_error.c_str();
}

const char* frost_notices(void) {
  // The embedded text is NUL-terminated (a string literal), so its data pointer is a C string.
  return frost::loader::default_vocab_notice().data();
}

frost_status frost_backend_available(const char* name, int* available) {
  return guarded(__func__, [&] {
    require(name, "name");
    require(available, "available");
    const std::vector<std::string> backends = frost::available_backends();
    *available = std::find(backends.begin(), backends.end(), name) != backends.end() ? 1 : 0;
  });
}

void frost_model_options_init(frost_model_options* options) {
  if (options == nullptr) return;
  *options = frost_model_options{};
  options->struct_size = sizeof(frost_model_options);
  options->towers = FROST_TOWERS_BOTH;
}

frost_status frost_model_open(const char* weights_path, const frost_model_options* options,
                              frost_model** model) {
  return guarded(__func__, [&] {
    require(weights_path, "weights_path");
    require(model, "model");
    frost_model_options o;
    frost_model_options_init(&o);
    if (options != nullptr) {
      FROST_CHECK(options->struct_size == sizeof(frost_model_options), InvalidArgument,
                  "options.struct_size is " << options->struct_size << ", not this library's "
                                            << sizeof(frost_model_options)
                                            << " (call frost_model_options_init first; a header of "
                                               "another frost version?)");
      o = *options;
    }
    FROST_CHECK(o.threads >= 0 && o.threads <= 4096, InvalidArgument,
                "options.threads is " << o.threads << "; give 0 (the default) to 4096");
    FROST_CHECK(o.batch_size >= 0 && o.batch_size <= 4096, InvalidArgument,
                "options.batch_size is " << o.batch_size << "; give 0 (the default, 8) to 4096");
    FROST_CHECK(
        o.towers == FROST_TOWERS_BOTH || o.towers == FROST_TOWERS_TEXT || o.towers == FROST_TOWERS_VIDEO,
        InvalidArgument, "options.towers is " << int(o.towers) << ", not a frost_towers value");
    auto m = std::make_unique<frost_model>();
    m->weights_path = weights_path;
    m->backend = o.backend != nullptr ? o.backend : "cpu";
    m->threads = o.threads;
    m->batch_size = o.batch_size > 0 ? o.batch_size : 8;
    m->towers = frost_towers(o.towers);
    m->log = o.log;
    m->log_user = o.log_user;
    m->progress = o.progress;
    m->progress_user = o.progress_user;
    const CallThreads threads(*m);
    // The backend first: a wrong name or a missing device is said before reading a large file.
    const std::vector<std::string> backends = frost::available_backends();
    if (std::find(backends.begin(), backends.end(), m->backend) == backends.end()) {
      frost::get_backend(m->backend);  // throws Unsupported saying why (no device) or listing the backends
      FROST_FAIL(Unsupported, "options.backend " << m->backend << " is not available here");
    }
    const frost::model::Diagnostics diag = m->diagnostics();
    m->config =
        frost::model::config_for(o.config != nullptr ? o.config : "", m->weights_path, std::nullopt, diag);
    m->config_json = m->config.to_json();
    const auto towers = o.towers == FROST_TOWERS_TEXT    ? frost::model::Towers::Text
                        : o.towers == FROST_TOWERS_VIDEO ? frost::model::Towers::Video
                                                         : frost::model::Towers::Both;
    frost::model::WeightSet weights = frost::model::load_towers(m->config, m->weights_path, towers, diag);
    std::optional<frost::loader::WordPieceTokenizer> tokenizer;
    if (towers != frost::model::Towers::Video)
      tokenizer =
          frost::model::tokenizer_for(o.vocab != nullptr ? o.vocab : "", m->weights_path, m->config, diag);
    m->encoder = std::make_unique<frost::model::DualEncoder>(
        m->config, std::move(weights), std::move(tokenizer),
        frost::model::EncoderOptions{.backend = m->backend, .batch_size = m->batch_size});
    *model = m.release();
  });
}

void frost_model_free(frost_model* model) {
  delete model;
}

size_t frost_model_embedding_dim(const frost_model* model) {
  return model != nullptr ? model->dim() : 0;
}

size_t frost_model_num_frames(const frost_model* model) {
  return model != nullptr ? size_t(model->config.video.num_frames) : 0;
}

size_t frost_model_image_size(const frost_model* model) {
  return model != nullptr ? size_t(model->config.video.image_size) : 0;
}

const char* frost_model_config_json(const frost_model* model) {
  return model != nullptr ? model->config_json.c_str() : "";
}

frost_status frost_tokenize(frost_model* model, const char* text, int32_t* ids, size_t capacity,
                            size_t* count) {
  return guarded(__func__, [&] {
    frost_model& m = model_of(model);
    require(text, "text");
    require(count, "count");
    if (capacity > 0) require(ids, "ids");
    m.require_tower(FROST_TOWERS_TEXT);
    std::lock_guard<std::mutex> lock(m.mutex);
    const std::vector<int32_t> got = m.encoder->tokenizer().encode(text);
    *count = got.size();
    if (ids == nullptr && capacity == 0) return;  // the size query
    FROST_CHECK(capacity >= got.size(), InvalidArgument,
                "ids holds " << capacity << " ids; the text has " << got.size());
    std::copy(got.begin(), got.end(), ids);
  });
}

frost_status frost_encode_text(frost_model* model, const char* const* captions, size_t count,
                               float* embeddings, size_t capacity) {
  return guarded(__func__, [&] {
    frost_model& m = model_of(model);
    m.require_tower(FROST_TOWERS_TEXT);
    require_room(count, m.dim(), capacity, "embeddings");
    const std::vector<std::string> texts = strings_of(captions, count, "captions");
    if (count > 0) require(embeddings, "embeddings");
    std::lock_guard<std::mutex> lock(m.mutex);
    const CallThreads threads(m);
    for (size_t at = 0; at < count; at += size_t(m.batch_size)) {
      const size_t n = std::min(count - at, size_t(m.batch_size));
      const std::vector<std::string> part(texts.begin() + long(at), texts.begin() + long(at + n));
      write_rows(m.encoder->encode_text(part).embedding, at, embeddings);
      m.report(at + n, count);
    }
  });
}

frost_status frost_encode_frames(frost_model* model, const uint8_t* rgb, size_t count, size_t frames,
                                 size_t height, size_t width, float* embeddings, size_t capacity) {
  return guarded(__func__, [&] {
    frost_model& m = model_of(model);
    m.require_tower(FROST_TOWERS_VIDEO);
    const size_t F = size_t(m.config.video.num_frames);
    const int64_t S = m.config.video.image_size;
    FROST_CHECK(frames >= 1 && frames <= F, InvalidArgument,
                "frames is " << frames << "; this model takes 1 to " << F << " frames a clip");
    const frost::loader::VideoLimits limits;
    FROST_CHECK(height >= 1 && width >= 1 && height <= size_t(limits.max_pixels) / width, InvalidArgument,
                "frames of " << width << " x " << height << " pixels; give 1 to " << limits.max_pixels
                             << " pixels a frame");
    const size_t frame_bytes = height * width * 3, clip_bytes = frame_bytes * frames;
    FROST_CHECK(count <= SIZE_MAX / clip_bytes, InvalidArgument,
                count << " clips of " << clip_bytes << " bytes overflow the address space");
    if (count > 0) {
      require(rgb, "rgb");
      require(embeddings, "embeddings");
    }
    require_room(count, m.dim(), capacity, "embeddings");
    std::lock_guard<std::mutex> lock(m.mutex);
    const CallThreads threads(m);
    const frost::loader::TestTransform transform{.size = S};
    for (size_t at = 0; at < count; at += size_t(m.batch_size)) {
      const size_t n = std::min(count - at, size_t(m.batch_size));
      HostTensor batch(DType::F32, {int64_t(n), int64_t(frames), 3, S, S});
      HostTensor clip(DType::U8, {int64_t(frames), int64_t(height), int64_t(width), 3});
      for (size_t c = 0; c < n; ++c) {
        std::memcpy(clip.raw(), rgb + (at + c) * clip_bytes, clip_bytes);
        const HostTensor pixels = frost::loader::test_transform(clip, transform);  // (F, 3, S, S)
        std::memcpy(batch.data<float>() + int64_t(c) * pixels.numel(), pixels.raw(), pixels.bytes());
      }
      write_rows(m.encoder->encode_clips(batch).embedding, at, embeddings);
      m.report(at + n, count);
    }
  });
}

frost_status frost_encode_videos(frost_model* model, const char* const* paths, size_t count,
                                 float* embeddings, size_t capacity) {
  return guarded(__func__, [&] { encode_files(model, paths, count, embeddings, capacity, false); });
}

frost_status frost_encode_images(frost_model* model, const char* const* paths, size_t count,
                                 float* embeddings, size_t capacity) {
  return guarded(__func__, [&] { encode_files(model, paths, count, embeddings, capacity, true); });
}

frost_status frost_similarity(const float* a, size_t a_rows, const float* b, size_t b_rows, size_t dim,
                              float* scores, size_t capacity) {
  return guarded(__func__, [&] {
    FROST_CHECK(dim >= 1, InvalidArgument, "dim is 0");
    require_room(a_rows, dim, SIZE_MAX, "a");
    require_room(b_rows, dim, SIZE_MAX, "b");
    if (b_rows > 0) require_room(a_rows, b_rows, capacity, "scores");
    if (a_rows > 0) require(a, "a");
    if (b_rows > 0) require(b, "b");
    if (a_rows > 0 && b_rows > 0) require(scores, "scores");
    HostTensor ta(DType::F32, {int64_t(a_rows), int64_t(dim)}),
        tb(DType::F32, {int64_t(b_rows), int64_t(dim)});
    if (a_rows > 0) std::memcpy(ta.raw(), a, ta.bytes());
    if (b_rows > 0) std::memcpy(tb.raw(), b, tb.bytes());
    const HostTensor s = frost::model::similarity(ta, tb);
    if (s.bytes() > 0) std::memcpy(scores, s.raw(), s.bytes());
  });
}

}  // extern "C"

// ---- the retrieval index ---------------------------------------------------------------------------------

struct frost_index {
  frost::retrieval::Index index;
  mutable std::shared_mutex mutex;  // shared: size, item, search; exclusive: add, remove, save
};

namespace {

frost_index& index_of(frost_index* ix) {
  require(ix, "index");
  return *ix;
}

// Whether `m` made (or can search) the embeddings of `ix`: the same config and video tower.
void require_same_model(frost_index& ix, frost_model& m) {
  FROST_CHECK(
      frost::model::model_identity(ix.index.config_json()) == frost::model::model_identity(m.config_json),
      InvalidArgument, "the index was made with another model config (" << ix.index.config_json() << ")");
  const std::string& hash = m.hash();
  FROST_CHECK(hash == ix.index.video_hash(), InvalidArgument,
              "the index was made with other video weights (hash "
                  << ix.index.video_hash().substr(0, 12) << "…; " << m.weights_path << " has "
                  << hash.substr(0, 12) << "…): its embeddings and this model's would not compare");
}

void search_into(const frost_index& ix, const float* query, size_t dim, size_t k, frost_hit* hits,
                 size_t* count) {
  FROST_CHECK(int64_t(dim) == ix.index.dim(), InvalidArgument,
              "the query has " << dim << " values; the index's embeddings have " << ix.index.dim());
  FROST_CHECK(k >= 1, InvalidArgument, "k is 0");
  for (size_t i = 0; i < dim; ++i)
    FROST_CHECK(std::isfinite(query[i]), InvalidArgument, "query[" << i << "] is " << query[i]);
  const frost::retrieval::NormalizedRows q =
      frost::retrieval::normalize_rows(std::span<const float>(query, dim), 1, int64_t(dim));
  const std::vector<frost::retrieval::Hit> got =
      frost::retrieval::top_k(ix.index.rows(), q.row(0), q.dim, int64_t(std::min<size_t>(k, INT64_MAX)));
  for (size_t i = 0; i < got.size(); ++i) hits[i] = {size_t(got[i].row), got[i].score};
  *count = got.size();
}

}  // namespace

extern "C" {

frost_status frost_index_create(frost_model* model, frost_index** index) {
  return guarded(__func__, [&] {
    frost_model& m = model_of(model);
    require(index, "index");
    std::lock_guard<std::mutex> lock(m.mutex);
    *index = new frost_index{
        frost::retrieval::Index(m.config_json, m.hash(), m.config.projection_dim, m.config.video.num_frames),
        {}};
  });
}

frost_status frost_index_load(const char* path, frost_index** index) {
  return guarded(__func__, [&] {
    require(path, "path");
    require(index, "index");
    *index = new frost_index{frost::retrieval::Index::load(path), {}};
  });
}

frost_status frost_index_save(frost_index* index, const char* path) {
  return guarded(__func__, [&] {
    frost_index& ix = index_of(index);
    require(path, "path");
    std::unique_lock<std::shared_mutex> lock(ix.mutex);
    const frost::retrieval::IndexLock file_lock(path);  // as `frost index`: one writer of a file at a time
    ix.index.save(path);
  });
}

void frost_index_free(frost_index* index) {
  delete index;
}

size_t frost_index_size(const frost_index* index) {
  if (index == nullptr) return 0;
  try {  // nothing may leave an extern "C" function: a lock that cannot be taken is a size of 0
    std::shared_lock<std::shared_mutex> lock(index->mutex);
    return index->index.size();
  } catch (...) {
    return 0;
  }
}

size_t frost_index_dim(const frost_index* index) {
  return index != nullptr ? size_t(index->index.dim()) : 0;  // fixed at creation: no lock
}

frost_status frost_index_item(const frost_index* index, size_t row, char* name, size_t capacity,
                              size_t* length) {
  return guarded(__func__, [&] {
    require(index, "index");
    require(length, "length");
    if (capacity > 0) require(name, "name");
    std::shared_lock<std::shared_mutex> lock(index->mutex);
    FROST_CHECK(row < index->index.size(), InvalidArgument,
                "row " << row << " is past the index's " << index->index.size() << " items");
    const std::string& path = index->index.item(row).path;
    *length = path.size();
    if (name == nullptr && capacity == 0) return;  // the size query
    FROST_CHECK(capacity > path.size(), InvalidArgument,
                "name holds " << capacity << " bytes; the item's name needs " << path.size() + 1
                              << " with its terminating NUL");
    std::memcpy(name, path.c_str(), path.size() + 1);
  });
}

frost_status frost_index_add(frost_index* index, const char* name, const float* embedding, size_t dim) {
  return guarded(__func__, [&] {
    frost_index& ix = index_of(index);
    require(name, "name");
    require(embedding, "embedding");
    FROST_CHECK(*name != '\0', InvalidArgument, "name is empty");
    std::unique_lock<std::shared_mutex> lock(ix.mutex);
    ix.index.add({.path = name}, std::span<const float>(embedding, dim));
  });
}

frost_status frost_index_add_videos(frost_index* index, frost_model* model, const char* const* paths,
                                    size_t count) {
  return guarded(__func__, [&] {
    frost_index& ix = index_of(index);
    frost_model& m = model_of(model);
    m.require_tower(FROST_TOWERS_VIDEO);
    const std::vector<std::string> inputs = strings_of(paths, count, "paths");
    // Encoded under the model's lock only (the callbacks run meanwhile, and readers of the index go on);
    // the index is then changed at once, all items or none: a failure or a cancel adds nothing.
    std::vector<float> rows(inputs.size() * m.dim());
    std::vector<frost::retrieval::ItemStamp> stamps;
    std::vector<std::vector<int64_t>> frames;
    {
      std::lock_guard<std::mutex> model_lock(m.mutex);
      const CallThreads threads(m);
      require_same_model(ix, m);  // the index's model never changes: no index lock needed
      for (const std::string& p : inputs) stamps.push_back(frost::retrieval::stamp_of(p));
      encode_paths(m, inputs, false, rows.data(), &frames);
    }
    for (size_t i = 0; i < rows.size(); ++i)
      FROST_CHECK(
          std::isfinite(rows[i]), Numerical,
          inputs[i / m.dim()] << ": its embedding is not finite (NaN or Inf weights?); nothing was added");
    std::unique_lock<std::shared_mutex> lock(ix.mutex);
    for (size_t i = 0; i < inputs.size(); ++i)
      ix.index.add({inputs[i], stamps[i].size, stamps[i].mtime_ns, std::move(frames[i])},
                   std::span<const float>(rows.data() + i * m.dim(), m.dim()));
  });
}

frost_status frost_index_remove(frost_index* index, const char* name, int* removed) {
  return guarded(__func__, [&] {
    frost_index& ix = index_of(index);
    require(name, "name");
    std::unique_lock<std::shared_mutex> lock(ix.mutex);
    const size_t n = ix.index.remove({name});
    if (removed != nullptr) *removed = n > 0 ? 1 : 0;
  });
}

frost_status frost_index_search(frost_index* index, const float* query, size_t dim, size_t k, frost_hit* hits,
                                size_t* count) {
  return guarded(__func__, [&] {
    frost_index& ix = index_of(index);
    require(query, "query");
    require(hits, "hits");
    require(count, "count");
    std::shared_lock<std::shared_mutex> lock(ix.mutex);
    search_into(ix, query, dim, k, hits, count);
  });
}

frost_status frost_index_search_text(frost_index* index, frost_model* model, const char* caption, size_t k,
                                     frost_hit* hits, size_t* count) {
  return guarded(__func__, [&] {
    frost_index& ix = index_of(index);
    frost_model& m = model_of(model);
    m.require_tower(FROST_TOWERS_TEXT);
    require(caption, "caption");
    require(hits, "hits");
    require(count, "count");
    std::vector<float> query;
    {
      std::lock_guard<std::mutex> model_lock(m.mutex);
      const CallThreads threads(m);
      require_same_model(ix, m);  // the index's model never changes: no index lock needed
      const HostTensor e = m.encoder->encode_text({caption}).embedding;
      query.assign(e.data<float>(), e.data<float>() + e.numel());
    }
    std::shared_lock<std::shared_mutex> lock(ix.mutex);
    search_into(ix, query.data(), query.size(), k, hits, count);
  });
}

}  // extern "C"
