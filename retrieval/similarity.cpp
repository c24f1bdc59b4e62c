#include "retrieval/similarity.h"

#include <cmath>

#include "engine/error.h"
#include "ops/cpu/parallel.h"

namespace frost::retrieval {

NormalizedRows normalize_rows(std::span<const float> values, int64_t rows, int64_t dim, double eps) {
  FROST_CHECK(rows >= 0 && dim > 0 && values.size() == size_t(rows * dim), InvalidArgument,
              "normalize_rows: " << values.size() << " values are not " << rows << " rows of " << dim);
  NormalizedRows out{std::vector<float>(values.size()), rows, dim};
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = values.data() + r * dim;
    double sq = 0;
    for (int64_t c = 0; c < dim; ++c) sq += double(x[c]) * double(x[c]);
    FROST_CHECK(std::isfinite(sq), InvalidArgument,
                "embedding row " << r << " holds a NaN or infinite value");
    const double scale = 1.0 / std::max(std::sqrt(sq), eps);
    for (int64_t c = 0; c < dim; ++c) out.data[size_t(r * dim + c)] = float(double(x[c]) * scale);
  }
  return out;
}

NormalizedRows normalize_rows(const HostTensor& e, double eps) {
  FROST_CHECK(e.dtype() == DType::F32 && e.shape().rank() == 2, InvalidArgument,
              "normalize_rows: embeddings must be F32 (N, P), got " << e.dtype() << e.shape());
  return normalize_rows(std::span<const float>(e.data<float>(), size_t(e.numel())), e.shape()[0],
                        e.shape()[1], eps);
}

float dot(const float* a, const float* b, int64_t n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t c = 0;
  for (; c + 8 <= n; c += 8)
    for (int l = 0; l < 8; ++l) lane[l] += a[c + l] * b[c + l];
  float s = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
  for (; c < n; ++c) s += a[c] * b[c];
  return s;
}

void similarity_block(const NormalizedRows& a, int64_t a0, int64_t a_rows, const NormalizedRows& b,
                      int64_t b0, int64_t b_rows, float* out) {
  FROST_CHECK(a.dim == b.dim && a0 >= 0 && b0 >= 0 && a0 + a_rows <= a.rows && b0 + b_rows <= b.rows,
              InvalidArgument,
              "similarity_block: rows out of range or widths " << a.dim << " and " << b.dim << " differ");
  ops::parallel_for(a_rows, a_rows * b_rows * a.dim > (1 << 16), [&](int64_t r) {
    const float* x = a.row(a0 + r);
    for (int64_t c = 0; c < b_rows; ++c) out[r * b_rows + c] = dot(x, b.row(b0 + c), a.dim);
  });
}

CaptionScores score_captions(const HostTensor& text, const HostTensor& video, double temperature) {
  FROST_CHECK(temperature > 0 && std::isfinite(temperature), InvalidArgument,
              "score: the temperature must be positive, got " << temperature);
  FROST_CHECK(video.dtype() == DType::F32 && video.numel() > 0 &&
                  (video.shape().rank() == 1 || (video.shape().rank() == 2 && video.shape()[0] == 1)),
              InvalidArgument,
              "score: one clip's embedding, F32 (1, P) or (P), got " << video.dtype() << video.shape());
  const NormalizedRows t = normalize_rows(text);
  const NormalizedRows v =
      normalize_rows(std::span<const float>(video.data<float>(), size_t(video.numel())), 1, video.numel());
  FROST_CHECK(t.dim == v.dim && t.rows > 0, InvalidArgument,
              "score: captions " << text.shape() << " and clip " << video.shape() << " differ in width");
  CaptionScores out;
  double top = -INFINITY;
  for (int64_t r = 0; r < t.rows; ++r) {
    out.cosine.push_back(dot(t.row(r), v.row(0), t.dim));
    top = std::max(top, double(out.cosine.back()) / temperature);
  }
  double sum = 0;
  for (float c : out.cosine) sum += std::exp(double(c) / temperature - top);
  for (float c : out.cosine) out.probability.push_back(std::exp(double(c) / temperature - top) / sum);
  return out;
}

}  // namespace frost::retrieval
