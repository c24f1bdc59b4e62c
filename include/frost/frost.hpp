// frost.hpp — a header-only C++17 wrapper over the C API (frost.h): RAII handles, std::vector and
// std::string in and out, and frost::ApiError (with the status) instead of status codes. (Not frost::Error:
// that is the name of frost's own internal exception, which a program linking libfrost.a also holds.)
//
//   frost::Model model("fit.safetensors");
//   std::vector<float> text = model.encode_text({"a dog runs on the beach"});       // (1, dim)
//   std::vector<float> video = model.encode_videos({"clip.mp4"});                    // (1, dim)
//   float score = frost::similarity(text, 1, video, 1, model.embedding_dim())[0];
//   frost::Index index = frost::Index::create(model);
//   index.add_videos(model, {"a.mp4", "b.mp4"});
//   for (const frost::Hit& h : index.search_text(model, "a red ball", 5)) std::cout << h.name << "\n";
//
// Shapes, threading and errors are the C API's (frost.h); every method throws frost::ApiError where the C
// function returns a status other than FROST_OK.
#ifndef FROST_FROST_HPP
#define FROST_FROST_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "frost/frost.h"

namespace frost {

class ApiError : public std::runtime_error {
 public:
  ApiError(frost_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  frost_status status() const { return status_; }

 private:
  frost_status status_;
};

namespace detail {
inline void check(frost_status s) {
  if (s != FROST_OK) throw ApiError(s, frost_last_error());
}
inline std::vector<const char*> c_strings(const std::vector<std::string>& v) {
  std::vector<const char*> out;
  out.reserve(v.size());
  for (const std::string& s : v) out.push_back(s.c_str());
  return out;
}
}  // namespace detail

// Cosine similarity (a_rows, b_rows), row-major, of a (a_rows, dim) and b (b_rows, dim).
inline std::vector<float> similarity(const std::vector<float>& a, size_t a_rows, const std::vector<float>& b,
                                     size_t b_rows, size_t dim) {
  if (a.size() != a_rows * dim || b.size() != b_rows * dim)
    throw ApiError(FROST_INVALID_ARGUMENT, "frost::similarity: the vectors do not hold rows x dim values");
  std::vector<float> scores(a_rows * b_rows);
  detail::check(frost_similarity(a.data(), a_rows, b.data(), b_rows, dim, scores.data(), scores.size()));
  return scores;
}

class Model {
 public:
  // options: frost_model_options_init'ed and adjusted, or the defaults.
  explicit Model(const std::string& weights, const frost_model_options* options = nullptr) {
    detail::check(frost_model_open(weights.c_str(), options, &model_));
  }
  ~Model() { frost_model_free(model_); }
  Model(Model&& o) noexcept : model_(std::exchange(o.model_, nullptr)) {}
  Model& operator=(Model&& o) noexcept {
    if (this != &o) {
      frost_model_free(model_);
      model_ = std::exchange(o.model_, nullptr);
    }
    return *this;
  }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  size_t embedding_dim() const { return frost_model_embedding_dim(model_); }
  size_t num_frames() const { return frost_model_num_frames(model_); }
  size_t image_size() const { return frost_model_image_size(model_); }
  std::string config_json() const { return frost_model_config_json(model_); }

  std::vector<int32_t> tokenize(const std::string& text) {
    size_t n = 0;
    detail::check(frost_tokenize(model_, text.c_str(), nullptr, 0, &n));  // the count
    std::vector<int32_t> ids(n);
    detail::check(frost_tokenize(model_, text.c_str(), ids.data(), ids.size(), &n));
    return ids;
  }
  // Each returns (count, embedding_dim()) floats, row-major.
  std::vector<float> encode_text(const std::vector<std::string>& captions) {
    std::vector<float> out(captions.size() * embedding_dim());
    const std::vector<const char*> c = detail::c_strings(captions);
    detail::check(frost_encode_text(model_, c.data(), c.size(), out.data(), out.size()));
    return out;
  }
  std::vector<float> encode_videos(const std::vector<std::string>& paths) {
    std::vector<float> out(paths.size() * embedding_dim());
    const std::vector<const char*> c = detail::c_strings(paths);
    detail::check(frost_encode_videos(model_, c.data(), c.size(), out.data(), out.size()));
    return out;
  }
  std::vector<float> encode_images(const std::vector<std::string>& paths) {
    std::vector<float> out(paths.size() * embedding_dim());
    const std::vector<const char*> c = detail::c_strings(paths);
    detail::check(frost_encode_images(model_, c.data(), c.size(), out.data(), out.size()));
    return out;
  }
  // rgb: count clips × frames × height × width × 3 bytes (frost_encode_frames).
  std::vector<float> encode_frames(const std::vector<uint8_t>& rgb, size_t count, size_t frames,
                                   size_t height, size_t width) {
    if (rgb.size() / 3 / (width ? width : 1) / (height ? height : 1) / (frames ? frames : 1) != count ||
        rgb.size() != count * frames * height * width * 3)
      throw ApiError(FROST_INVALID_ARGUMENT,
                     "frost::Model::encode_frames: rgb does not hold count clips of frames");
    std::vector<float> out(count * embedding_dim());
    detail::check(
        frost_encode_frames(model_, rgb.data(), count, frames, height, width, out.data(), out.size()));
    return out;
  }

  frost_model* get() const { return model_; }

 private:
  frost_model* model_ = nullptr;
};

struct Hit {
  size_t row;
  float score;
  std::string name;
};

class Index {
 public:
  static Index create(Model& model) {
    Index ix;
    detail::check(frost_index_create(model.get(), &ix.index_));
    return ix;
  }
  static Index load(const std::string& path) {
    Index ix;
    detail::check(frost_index_load(path.c_str(), &ix.index_));
    return ix;
  }
  ~Index() { frost_index_free(index_); }
  Index(Index&& o) noexcept : index_(std::exchange(o.index_, nullptr)) {}
  Index& operator=(Index&& o) noexcept {
    if (this != &o) {
      frost_index_free(index_);
      index_ = std::exchange(o.index_, nullptr);
    }
    return *this;
  }
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  void save(const std::string& path) { detail::check(frost_index_save(index_, path.c_str())); }
  size_t size() const { return frost_index_size(index_); }
  size_t dim() const { return frost_index_dim(index_); }
  std::string item(size_t row) const {
    size_t length = 0;
    detail::check(frost_index_item(index_, row, nullptr, 0, &length));
    std::string name(length + 1, '\0');
    for (;;) {  // another thread may replace the item between the calls: retry with its new length
      const frost_status s = frost_index_item(index_, row, &name[0], name.size(), &length);
      if (s == FROST_OK) break;
      if (s != FROST_INVALID_ARGUMENT || length + 1 <= name.size()) detail::check(s);
      name.assign(length + 1, '\0');
    }
    name.resize(length);
    return name;
  }
  void add(const std::string& name, const std::vector<float>& embedding) {
    detail::check(frost_index_add(index_, name.c_str(), embedding.data(), embedding.size()));
  }
  void add_videos(Model& model, const std::vector<std::string>& paths) {
    const std::vector<const char*> c = detail::c_strings(paths);
    detail::check(frost_index_add_videos(index_, model.get(), c.data(), c.size()));
  }
  bool remove(const std::string& name) {
    int removed = 0;
    detail::check(frost_index_remove(index_, name.c_str(), &removed));
    return removed != 0;
  }
  std::vector<Hit> search(const std::vector<float>& query, size_t k) {
    std::vector<frost_hit> hits(k);
    size_t n = 0;
    detail::check(frost_index_search(index_, query.data(), query.size(), k, hits.data(), &n));
    return named(hits, n);
  }
  std::vector<Hit> search_text(Model& model, const std::string& caption, size_t k) {
    std::vector<frost_hit> hits(k);
    size_t n = 0;
    detail::check(frost_index_search_text(index_, model.get(), caption.c_str(), k, hits.data(), &n));
    return named(hits, n);
  }

  frost_index* get() const { return index_; }

 private:
  Index() = default;
  std::vector<Hit> named(const std::vector<frost_hit>& hits, size_t n) const {
    std::vector<Hit> out;
    for (size_t i = 0; i < n; ++i) out.push_back({hits[i].row, hits[i].score, item(hits[i].row)});
    return out;
  }
  frost_index* index_ = nullptr;
};

}  // namespace frost

#endif  // FROST_FROST_HPP
