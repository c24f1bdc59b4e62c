#include "loader/preprocess.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "engine/random.h"

// Dimension legend: T frames, C channels (3), H/W input height/width, OH/OW output height/width.
// This file must be compiled without floating-point contraction (ISO C++ mode, no -ffp-contract=fast): the
// interpolation reproduces ATen's sequence of f32 roundings.

namespace frost::loader {
namespace {

// Where each output position along one axis reads, and with which weights: ATen's
// compute_source_index_and_lambda for align_corners=False.
struct AxisTaps {
  std::vector<int64_t> i0, i1;
  std::vector<float> w0, w1;
};

AxisTaps axis_taps(int64_t in, int64_t out) {
  AxisTaps t;
  t.i0.resize(size_t(out));
  t.i1.resize(size_t(out));
  t.w0.resize(size_t(out));
  t.w1.resize(size_t(out));
  const float scale = float(in) / float(out);
  for (int64_t o = 0; o < out; ++o) {
    const size_t k = size_t(o);
    if (in == out) {  // ATen copies: no arithmetic at all
      t.i0[k] = t.i1[k] = o;
      t.w0[k] = 1.0f;
      t.w1[k] = 0.0f;
      continue;
    }
    float src = scale * (float(o) + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    const int64_t i0 = std::min(int64_t(std::floor(src)), in - 1);
    const float lambda = std::min(std::max(src - float(i0), 0.0f), 1.0f);
    t.i0[k] = i0;
    t.i1[k] = i0 + (i0 < in - 1 ? 1 : 0);
    t.w1[k] = lambda;
    t.w0[k] = 1.0f - lambda;
  }
  return t;
}

// u8 (H, W, 3) frame read as the reference's float tensor: value / 255.
struct U8Frame {
  const uint8_t* data;
  int64_t width;
  float at(int64_t c, int64_t y, int64_t x) const { return float(data[(y * width + x) * 3 + c]) / 255.0f; }
};

// f32 (C, H, W) plane set.
struct F32Frame {
  const float* data;
  int64_t height, width;
  float at(int64_t c, int64_t y, int64_t x) const { return data[(c * height + y) * width + x]; }
};

struct Window {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// Resizes the `in` window of `src` to (OH, OW) bilinearly and writes rows [oy0, oy0 + ny) and columns
// [ox0, ox0 + nx) of that output into `out` (C, ny, nx) — a centre crop of the resized image without
// computing what the crop throws away. Mirrors the columns if `flip`, then normalises if `norm`.
template <class Src>
void resize_window(const Src& src, int64_t channels, Window in, int64_t OH, int64_t OW, Window keep,
                   bool flip, const Normalization* norm, float* out) {
  const AxisTaps ty = axis_taps(in.height, OH);
  const AxisTaps tx = axis_taps(in.width, OW);
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = 0; y < keep.height; ++y) {
      const size_t sy = size_t(keep.top + y);
      const int64_t y0 = in.top + ty.i0[sy], y1 = in.top + ty.i1[sy];
      const float wy0 = ty.w0[sy], wy1 = ty.w1[sy];
      float* row = out + (c * keep.height + y) * keep.width;
      for (int64_t x = 0; x < keep.width; ++x) {
        const size_t sx = size_t(keep.left + x);
        const int64_t x0 = in.left + tx.i0[sx], x1 = in.left + tx.i1[sx];
        const float wx0 = tx.w0[sx], wx1 = tx.w1[sx];
        // ATen's order: each row's two taps blended, then the two rows, each blend t0 * w0 + t1 * w1 as
        // fma(t0, w0, t1 * w1) — what ATen's AVX2 build computes (its compiler contracts the expression).
        const float top = std::fma(src.at(c, y0, x0), wx0, src.at(c, y0, x1) * wx1);
        const float bottom = std::fma(src.at(c, y1, x0), wx0, src.at(c, y1, x1) * wx1);
        float v = std::fma(top, wy0, bottom * wy1);
        if (norm != nullptr) v = (v - norm->mean[size_t(c)]) / norm->std[size_t(c)];
        row[flip ? keep.width - 1 - x : x] = v;
      }
    }
  }
}

// Python's round(d / 2) for an integer d: halves go to the even neighbour.
int64_t half_round_even(int64_t d) {
  if (d % 2 == 0) return d / 2;
  const int64_t lo = (d - 1) / 2;  // d / 2 = lo + 0.5
  return lo % 2 == 0 ? lo : lo + 1;
}

// torchvision Resize(size) on the short side.
void short_side_size(int64_t h, int64_t w, int64_t size, int64_t& oh, int64_t& ow) {
  if (w <= h) {
    ow = size;
    oh = int64_t(double(size) * double(h) / double(w));  // int(size * h / w): true division, truncated
  } else {
    oh = size;
    ow = int64_t(double(size) * double(w) / double(h));
  }
}

void check_frames(const HostTensor& frames, const char* what) {
  const Shape& s = frames.shape();
  FROST_CHECK(frames.dtype() == DType::U8 && s.rank() == 4 && s[3] == 3 && s[1] > 0 && s[2] > 0,
              InvalidArgument, what << ": expected u8 frames (T, H, W, 3), got " << frames.dtype() << s);
}

// 53 random bits as a double in [0, 1).
double unit(uint32_t hi, uint32_t lo) {
  return double((uint64_t(hi) << 21) | (lo >> 11)) * 0x1p-53;
}

// A uniform integer in [0, n) from one 32-bit word (multiply-shift; n is far below 2^32, bias < n / 2^32).
int64_t below(uint32_t word, int64_t n) {
  return int64_t((uint64_t(word) * uint64_t(n)) >> 32);
}

}  // namespace

HostTensor frames_to_float(const HostTensor& frames) {
  check_frames(frames, "frames");
  const Shape& s = frames.shape();
  const int64_t T = s[0], H = s[1], W = s[2];
  HostTensor out(DType::F32, {T, 3, H, W});
  const uint8_t* in = frames.data<uint8_t>();
  float* o = out.data<float>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < H * W; ++i)
        o[((t * 3 + c) * H * W) + i] = float(in[(t * H * W + i) * 3 + c]) / 255.0f;
  return out;
}

HostTensor resize_bilinear(const HostTensor& x, int64_t out_h, int64_t out_w) {
  const Shape& s = x.shape();
  FROST_CHECK(x.dtype() == DType::F32 && s.rank() == 4 && s[2] > 0 && s[3] > 0, InvalidArgument,
              "resize: expected f32 (N, C, H, W), got " << x.dtype() << s);
  FROST_CHECK(out_h > 0 && out_w > 0, InvalidArgument,
              "resize: output size must be positive, got " << out_h << "x" << out_w);
  const int64_t N = s[0], C = s[1], H = s[2], W = s[3];
  HostTensor out(DType::F32, {N, C, out_h, out_w});
  for (int64_t n = 0; n < N; ++n)
    resize_window(F32Frame{x.data<float>() + n * C * H * W, H, W}, C, Window{0, 0, H, W}, out_h, out_w,
                  Window{0, 0, out_h, out_w}, false, nullptr, out.data<float>() + n * C * out_h * out_w);
  return out;
}

HostTensor center_crop(const HostTensor& x, int64_t h, int64_t w) {
  const Shape& s = x.shape();
  FROST_CHECK(x.dtype() == DType::F32 && s.rank() == 4, InvalidArgument,
              "center crop: expected f32 (N, C, H, W), got " << x.dtype() << s);
  const int64_t N = s[0], C = s[1], H = s[2], W = s[3];
  FROST_CHECK(h > 0 && w > 0 && h <= H && w <= W, InvalidArgument,
              "center crop: a " << h << "x" << w << " crop does not fit in " << H << "x" << W
                                << " (padding is not supported)");
  const int64_t top = half_round_even(H - h), left = half_round_even(W - w);
  HostTensor out(DType::F32, {N, C, h, w});
  for (int64_t p = 0; p < N * C; ++p)
    for (int64_t y = 0; y < h; ++y)
      std::copy_n(x.data<float>() + (p * H + top + y) * W + left, w, out.data<float>() + (p * h + y) * w);
  return out;
}

void normalize(HostTensor& x, const Normalization& norm) {
  const Shape& s = x.shape();
  FROST_CHECK(x.dtype() == DType::F32 && s.rank() == 4 && s[1] == 3, InvalidArgument,
              "normalize: expected f32 (N, 3, H, W), got " << x.dtype() << s);
  const int64_t plane = s[2] * s[3];
  float* p = x.data<float>();
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < plane; ++i) {
        float& v = p[(n * 3 + c) * plane + i];
        v = (v - norm.mean[size_t(c)]) / norm.std[size_t(c)];
      }
}

HostTensor test_transform(const HostTensor& frames, const TestTransform& o) {
  check_frames(frames, "test transform");
  FROST_CHECK(o.resize > 0 && o.crop > 0 && o.size > 0 && o.crop <= o.resize, InvalidArgument,
              "test transform: needs 0 < crop <= resize and size > 0, got resize "
                  << o.resize << ", crop " << o.crop << ", size " << o.size);
  const Shape& s = frames.shape();
  const int64_t T = s[0], H = s[1], W = s[2];
  int64_t RH = 0, RW = 0;  // after Resize(resize)
  short_side_size(H, W, o.resize, RH, RW);
  const Window crop{half_round_even(RH - o.crop), half_round_even(RW - o.crop), o.crop, o.crop};
  std::vector<float> cropped(size_t(3 * o.crop * o.crop));  // (3, crop, crop) of one frame
  HostTensor out(DType::F32, {T, 3, o.size, o.size});
  for (int64_t t = 0; t < T; ++t) {
    const U8Frame src{frames.data<uint8_t>() + t * H * W * 3, W};
    // Stage 1: Resize(resize) on the short side, computing only the centre crop's pixels. torchvision
    // returns the image untouched when the short side already has the size; axis_taps copies then too.
    resize_window(src, 3, Window{0, 0, H, W}, RH, RW, crop, false, nullptr, cropped.data());
    // Stage 2: Resize(size) of the crop, then Normalize.
    resize_window(F32Frame{cropped.data(), o.crop, o.crop}, 3, Window{0, 0, o.crop, o.crop}, o.size, o.size,
                  Window{0, 0, o.size, o.size}, false, &o.norm, out.data<float>() + t * 3 * o.size * o.size);
  }
  return out;
}

TrainCrop draw_train_crop(int64_t height, int64_t width, const TrainTransform& o, uint64_t seed,
                          uint64_t sample) {
  FROST_CHECK(height > 0 && width > 0, InvalidArgument,
              "training crop: empty frame " << height << "x" << width);
  FROST_CHECK(
      0 < o.scale_min && o.scale_min <= o.scale_max && o.scale_max <= 1.0 && 0 < o.ratio_min &&
          o.ratio_min <= o.ratio_max,
      InvalidArgument,
      "training crop: needs 0 < scale_min <= scale_max <= 1 and 0 < ratio_min <= ratio_max, got scale ["
          << o.scale_min << ", " << o.scale_max << "], ratio [" << o.ratio_min << ", " << o.ratio_max << "]");
  const Philox rng(seed, sample);
  TrainCrop crop;
  const double area = double(height) * double(width);
  const double log_r0 = std::log(o.ratio_min), log_r1 = std::log(o.ratio_max);
  bool found = false;
  for (uint64_t attempt = 0; attempt < 10 && !found; ++attempt) {  // torchvision's ten tries
    const auto a = rng.block(2 * attempt), b = rng.block(2 * attempt + 1);
    const double target_area = area * (o.scale_min + (o.scale_max - o.scale_min) * unit(a[0], a[1]));
    const double aspect = std::exp(log_r0 + (log_r1 - log_r0) * unit(a[2], a[3]));
    const int64_t w = int64_t(std::nearbyint(std::sqrt(target_area * aspect)));  // Python round: half to even
    const int64_t h = int64_t(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      crop = {below(b[0], height - h + 1), below(b[1], width - w + 1), h, w, false};
      found = true;
    }
  }
  if (!found) {  // torchvision's fallback: the largest centred crop within the ratio range
    const double in_ratio = double(width) / double(height);
    int64_t w = width, h = height;
    if (in_ratio < o.ratio_min)
      h = int64_t(std::nearbyint(double(w) / o.ratio_min));
    else if (in_ratio > o.ratio_max)
      w = int64_t(std::nearbyint(double(h) * o.ratio_max));
    crop = {(height - h) / 2, (width - w) / 2, h, w, false};
  }
  crop.flip = unit(rng.block(20)[0], rng.block(20)[1]) < o.flip_probability;
  return crop;
}

TrainCrop draw_train_crop_keeping(int64_t height, int64_t width, const TrainTransform& o,
                                  const PixelBox& keep, uint64_t seed, uint64_t sample) {
  FROST_CHECK(keep.top >= 0 && keep.left >= 0 && keep.height > 0 && keep.width > 0 &&
                  keep.top + keep.height <= height && keep.left + keep.width <= width,
              InvalidArgument,
              "training crop: the box to keep (top "
                  << keep.top << ", left " << keep.left << ", " << keep.height << "x" << keep.width
                  << ") is not inside the " << height << "x" << width << " frame");
  const TrainCrop first = draw_train_crop(height, width, o, seed, sample);
  if (PixelBox{first.top, first.left, first.height, first.width}.contains(keep)) return first;
  for (uint64_t k = 1; k < 32; ++k) {
    const TrainCrop c = draw_train_crop(height, width, o, seed, sample + (k << 40));
    if (PixelBox{c.top, c.left, c.height, c.width}.contains(keep)) return c;
  }
  return {0, 0, height, width, first.flip};
}

HostTensor train_transform(const HostTensor& frames, const TrainCrop& crop, const TrainTransform& o) {
  check_frames(frames, "training transform");
  const Shape& s = frames.shape();
  const int64_t T = s[0], H = s[1], W = s[2];
  FROST_CHECK(o.size > 0, InvalidArgument, "training transform: size must be positive, got " << o.size);
  FROST_CHECK(crop.top >= 0 && crop.left >= 0 && crop.height > 0 && crop.width > 0 &&
                  crop.top + crop.height <= H && crop.left + crop.width <= W,
              InvalidArgument,
              "training transform: crop (top " << crop.top << ", left " << crop.left << ", " << crop.height
                                               << "x" << crop.width << ") is outside the " << H << "x" << W
                                               << " frames");
  HostTensor out(DType::F32, {T, 3, o.size, o.size});
  for (int64_t t = 0; t < T; ++t)
    resize_window(U8Frame{frames.data<uint8_t>() + t * H * W * 3, W}, 3,
                  Window{crop.top, crop.left, crop.height, crop.width}, o.size, o.size,
                  Window{0, 0, o.size, o.size}, crop.flip, &o.norm,
                  out.data<float>() + t * 3 * o.size * o.size);
  return out;
}

}  // namespace frost::loader
