// Frame preprocessing of Frozen in Time (../shared/spec/frozen-in-time.md §3.6): what the reference's
// torchvision transforms do to a clip, on u8 RGB frames from the image or video readers.
//
//   test  : x / 255 → Resize(256, short side) → CenterCrop(256) → Resize(224) → Normalize(ImageNet)
//   train : x / 255 → RandomResizedCrop(224, scale 0.5–1, ratio 3/4–4/3) → RandomHorizontalFlip → Normalize
//
// Every frame of a clip gets the same crop and flip (the reference transforms the whole clip tensor).
// Resizes are torch's bilinear interpolation with align_corners=False and no antialiasing, as the tensor
// transforms of torchvision 0.9.1 did; the arithmetic follows ATen's CPU kernel (source index
// scale·(i + ½) − ½ clamped at 0, weights in f32, rows blended after columns). tests/fixtures/preprocess
// holds torchvision's outputs: frost agrees to within a few f32 ulps (ATen's build contracts some products
// into FMAs, which portable code cannot reproduce bit for bit; docs/loaders.md has the figures).
//
//   HostTensor frames = ...;                                    // u8 (T, H, W, 3)
//   HostTensor clip = test_transform(frames);                   // f32 (T, 3, 224, 224)
//   TrainCrop crop = draw_train_crop(H, W, {}, seed, sample);   // the clip's crop and flip
//   HostTensor aug = train_transform(frames, crop);             // f32 (T, 3, 224, 224)
#pragma once

#include <array>
#include <cstdint>

#include "engine/storage.h"

namespace frost::loader {

// Per-channel (x - mean) / std, as torchvision's Normalize (a subtraction, then a division, in f32).
struct Normalization {
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // ImageNet, as the reference (not timm's 0.5)
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

struct TestTransform {
  int64_t resize = 256;  // the short side is resized to this; the long side to int(resize * long / short)
  int64_t crop = 256;    // centre crop, square
  int64_t size = 224;    // final square resize
  Normalization norm;
};

struct TrainTransform {
  int64_t size = 224;
  double scale_min = 0.5, scale_max = 1.0;  // of the frame's area
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
  double flip_probability = 0.5;
  Normalization norm;
};

// A crop box (in input pixels) and whether to mirror: one draw of RandomResizedCrop + RandomHorizontalFlip.
struct TrainCrop {
  int64_t top = 0, left = 0, height = 0, width = 0;
  bool flip = false;
};

// A box in a frame's pixels.
struct PixelBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
  bool contains(const PixelBox& b) const {
    return top <= b.top && left <= b.left && b.top + b.height <= top + height &&
           b.left + b.width <= left + width;
  }
};

// The reference's test transform on u8 (T, H, W, 3) frames → f32 (T, 3, size, size).
HostTensor test_transform(const HostTensor& frames, const TestTransform& options = {});

// torchvision's RandomResizedCrop.get_params (ten tries at a random area and log-uniform aspect ratio,
// then the centre-crop fallback) and the flip, drawn from Philox(seed, sample): the same (seed, sample)
// gives the same crop on every platform. Draw once per clip; pass the result for every frame.
TrainCrop draw_train_crop(int64_t height, int64_t width, const TrainTransform& options, uint64_t seed,
                          uint64_t sample);

// draw_train_crop constrained to crops that contain `keep` (a synthetic clip's moving subject): up to 32
// draws from Philox(seed, sample + k·2^40), k = 0, 1, ..., the first that contains the box wins; if none
// does, the whole frame (scale 1) with the first draw's flip. `keep` must lie inside the frame
// (InvalidArgument otherwise).
TrainCrop draw_train_crop_keeping(int64_t height, int64_t width, const TrainTransform& options,
                                  const PixelBox& keep, uint64_t seed, uint64_t sample);

// Crops `crop`, resizes it to (size, size), mirrors it if asked, normalises: u8 (T, H, W, 3) → f32.
HostTensor train_transform(const HostTensor& frames, const TrainCrop& crop,
                           const TrainTransform& options = {});

// The building blocks, on f32 (N, C, H, W); each is the torch/torchvision operation named.
// torch.nn.functional.interpolate(x, (out_h, out_w), mode='bilinear', align_corners=False, antialias=False).
HostTensor resize_bilinear(const HostTensor& x, int64_t out_h, int64_t out_w);
// torchvision.transforms.functional.center_crop for crops inside the image: top = round((H - h) / 2) with
// Python's round (half to even).
HostTensor center_crop(const HostTensor& x, int64_t h, int64_t w);
// torchvision.transforms.functional.normalize, in place.
void normalize(HostTensor& x, const Normalization& norm);
// u8 (T, H, W, 3) → f32 (T, 3, H, W) with value / 255 (the reference's `.float() / 255`).
HostTensor frames_to_float(const HostTensor& frames);

}  // namespace frost::loader
