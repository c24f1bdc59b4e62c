// A synthetic video–text set that frost makes itself, for the learning test and `frost demo` (issue 16):
// one shape moving over a textured background, rendered as real H.264 MP4 files (loader/video_write.h) and
// read back through the decode path a user's videos take; captions say what moves where —
// "a small red square moving left".
//
// Attributes: 5 colours × 3 shapes × 2 sizes × 4 directions = 120 combinations. Every combination appears
// in training as `train_renderings` distinct renderings (start position, speed, background); the held-out
// split has `val_renderings` new renderings of each — so every held-out caption is distinct when it is 1,
// and the candidates include pairs that differ only in direction, only in colour, only in size, only in
// shape. What the train transform must respect (per-dataset options of the data pipeline):
//   - the horizontal flip mirrors the motion: a flipped clip's caption swaps "left" and "right"
//     (SyntheticSet::flip_swaps);
//   - the random resized crop (up to 1/√0.5 ≈ 1.41× zoom) must not cut the shape out: each training row
//     carries a `keep` box (the shape's whole path), and the two sizes are 2× apart so zoom never makes a
//     small shape look large.
//
//   SyntheticSet s = make_synthetic_set("synthetic/", {});   // train.jsonl, val.jsonl, vocab.txt, videos/
//   // frost train --config tiny --vocab synthetic/vocab.txt --data synthetic/train.jsonl --flip-swap
//   left:right
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/storage.h"
#include "loader/preprocess.h"

namespace frost::train {

struct SyntheticOptions {
  int64_t size = 64;             // frame width and height, pixels (even, 32..512)
  int64_t frames = 12;           // frames per video (4..256)
  int fps = 12;                  // the files' frame rate
  int64_t train_renderings = 8;  // per attribute combination
  int64_t val_renderings = 1;    // held-out renderings per combination
  uint64_t seed = 1;
  // vocab.txt's lines: the words, then [unusedN] up to this size — the word-embedding table of the model
  // trained on it (the tiny config's 512).
  int64_t vocab_size = 512;
  // Throws InvalidArgument naming the option.
  void validate() const;
};

// Indices into synthetic_words(): colour, shape, size, direction.
struct SceneAttributes {
  int colour = 0, shape = 0, size = 0, direction = 0;
};
struct SyntheticWords {
  std::vector<std::string> colours, shapes, sizes, directions;
};
const SyntheticWords& synthetic_words();
// "a <size> <colour> <shape> moving <direction>".
std::string synthetic_caption(const SceneAttributes& a);
// The attributes with the direction reversed (left ↔ right, up ↔ down): its caption differs only there.
SceneAttributes opposite_direction(const SceneAttributes& a);
// Every combination, in a fixed order (colour slowest, direction fastest).
std::vector<SceneAttributes> all_attribute_combinations();

// One rendering: where the shape starts and how far it travels, and the background.
struct Scene {
  SceneAttributes attributes;
  double x0 = 0, y0 = 0;     // the shape's centre in the first frame, pixels
  double dx = 0, dy = 0;     // its displacement over the clip (first to last frame)
  int background = 0;        // 0 smooth noise, 1 stripes, 2 checks, 3 gradient
  uint64_t texture_key = 0;  // the background's random stream
  loader::PixelBox keep;     // the shape's whole path (every frame), clipped to the frame
};
// A rendering of `a`, drawn from Philox(seed, index): the same (seed, index) gives the same scene.
Scene draw_scene(const SceneAttributes& a, const SyntheticOptions& options, uint64_t index);
// u8 (frames, size, size, 3) RGB; shape edges antialiased (4×4 supersampling).
HostTensor render_scene(const Scene& scene, const SyntheticOptions& options);
// The shape's half-extent in pixels for a size class (small, large: 2× apart).
double shape_radius(int size_class, const SyntheticOptions& options);

struct SyntheticSet {
  std::string folder, train_path, val_path, vocab_path;
  int64_t train_rows = 0, val_rows = 0;
  std::vector<SceneAttributes> val_attributes;                  // per held-out row, in file order
  std::vector<std::pair<std::string, std::string>> flip_swaps;  // {"left", "right"}
  bool reused = false;  // the folder already held this set (same options): nothing was rendered
};

// Writes the set into `folder` (created if needed): videos/train-NNNNN.mp4, videos/val-NNNNN.mp4,
// train.jsonl (video, caption, id, keep), val.jsonl (video, caption, id), vocab.txt (the WordPiece
// vocabulary of the captions: [PAD] [UNK] [CLS] [SEP] [MASK], the words, [unusedN] padding) and
// synthetic.json (the options). A folder whose synthetic.json records the same options and whose files all
// exist is reused. `progress(done, total)` is called after each video. Throws Unsupported when this build
// cannot write video files, Io when the folder cannot be written.
SyntheticSet make_synthetic_set(const std::string& folder, const SyntheticOptions& options,
                                const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace frost::train
