#include "train/synthetic_videos.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/random.h"
#include "loader/files.h"
#include "loader/video_write.h"

namespace frost::train {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Saturated colours, far from the backgrounds' low-saturation greys.
constexpr std::array<std::array<float, 3>, 5> kColourRgb{{
    {225, 35, 35},   // red
    {35, 195, 55},   // green
    {45, 80, 240},   // blue
    {240, 220, 30},  // yellow
    {160, 45, 210},  // purple
}};

// Draws from one Philox stream, in order.
struct Draws {
  Philox rng;
  uint64_t next = 0;
  double uniform(double lo, double hi) { return lo + (hi - lo) * double(rng.uniform(next++)); }
  int below(int n) { return std::min(n - 1, int(double(rng.uniform(next++)) * n)); }
};

// Whether the point (px, py), relative to the shape's centre, is inside a shape of half-extent r.
bool inside(int shape, double px, double py, double r) {
  switch (shape) {
    case 0:  // square
      return std::abs(px) <= r && std::abs(py) <= r;
    case 1:  // circle
      return px * px + py * py <= r * r;
    default:  // triangle, apex up: symmetric under a horizontal flip, like the other two
      return py <= r && py >= -r && std::abs(px) <= (py + r) / 2;
  }
}

// The background's pattern at (x, y), in [-1, 1].
struct Texture {
  int kind;
  double angle, period, gx, gy;
  std::array<double, 81> grid;  // smooth noise: 9×9 values over the frame
  double at(double x, double y, double size) const {
    switch (kind) {
      case 0: {
        const double u = x / size * 8, v = y / size * 8;
        const int i = std::min(7, int(u)), j = std::min(7, int(v));
        const double fu = u - i, fv = v - j;
        const double a = grid[size_t(j * 9 + i)], b = grid[size_t(j * 9 + i + 1)];
        const double c = grid[size_t((j + 1) * 9 + i)], d = grid[size_t((j + 1) * 9 + i + 1)];
        return (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv;
      }
      case 1:
        return std::sin(2 * kPi * (x * std::cos(angle) + y * std::sin(angle)) / period);
      case 2:
        return (int(std::floor(x / period)) + int(std::floor(y / period))) % 2 == 0 ? 1.0 : -1.0;
      default:
        return std::clamp((x - size / 2) / size * gx + (y - size / 2) / size * gy, -1.0, 1.0);
    }
  }
};

nlohmann::ordered_json options_json(const SyntheticOptions& o) {
  return {{"generator", "frost synthetic videos 2"},  // 2: larger shapes, 35–45% travel
          {"size", o.size},
          {"frames", o.frames},
          {"fps", o.fps},
          {"train_renderings", o.train_renderings},
          {"val_renderings", o.val_renderings},
          {"seed", o.seed},
          {"vocab_size", o.vocab_size}};
}

void write_text(const std::string& path, const std::string& text) {
  loader::AtomicFile f(path);
  f.write(text.data(), text.size());
  f.commit();
}

}  // namespace

void SyntheticOptions::validate() const {
  FROST_CHECK(size >= 32 && size <= 512 && size % 2 == 0, InvalidArgument,
              "synthetic videos: size must be even, 32..512 pixels, got " << size);
  FROST_CHECK(frames >= 4 && frames <= 256, InvalidArgument,
              "synthetic videos: frames must be 4..256, got " << frames);
  FROST_CHECK(vocab_size >= 32 && vocab_size <= 1000000, InvalidArgument,
              "synthetic videos: vocab_size must be 32..1000000, got " << vocab_size);
  FROST_CHECK(fps >= 1 && fps <= 240, InvalidArgument, "synthetic videos: fps must be 1..240, got " << fps);
  FROST_CHECK(train_renderings >= 0 && train_renderings <= 10000 && val_renderings >= 0 &&
                  val_renderings <= 10000 && train_renderings + val_renderings > 0,
              InvalidArgument,
              "synthetic videos: renderings per combination must be 0..10000 (train "
                  << train_renderings << ", val " << val_renderings << "), not both 0");
}

const SyntheticWords& synthetic_words() {
  static const SyntheticWords w{{"red", "green", "blue", "yellow", "purple"},
                                {"square", "circle", "triangle"},
                                {"small", "large"},
                                {"left", "right", "up", "down"}};
  return w;
}

std::string synthetic_caption(const SceneAttributes& a) {
  const SyntheticWords& w = synthetic_words();
  return "a " + w.sizes[size_t(a.size)] + " " + w.colours[size_t(a.colour)] + " " +
         w.shapes[size_t(a.shape)] + " moving " + w.directions[size_t(a.direction)];
}

SceneAttributes opposite_direction(const SceneAttributes& a) {
  SceneAttributes o = a;
  o.direction = a.direction ^ 1;  // left 0 ↔ right 1, up 2 ↔ down 3
  return o;
}

std::vector<SceneAttributes> all_attribute_combinations() {
  const SyntheticWords& w = synthetic_words();
  std::vector<SceneAttributes> all;
  for (int c = 0; c < int(w.colours.size()); ++c)
    for (int s = 0; s < int(w.shapes.size()); ++s)
      for (int z = 0; z < int(w.sizes.size()); ++z)
        for (int d = 0; d < int(w.directions.size()); ++d) all.push_back({c, s, z, d});
  return all;
}

double shape_radius(int size_class, const SyntheticOptions& o) {
  // At the tiny model's 32 px input a small shape is then 7 px across: a square's corners still show (at
  // 5 px, after the resize and H.264, small squares and circles were confused 70% of the time).
  return double(o.size) * (size_class == 0 ? 0.11 : 0.22);
}

Scene draw_scene(const SceneAttributes& a, const SyntheticOptions& o, uint64_t index) {
  Draws d{Philox(o.seed, index)};
  Scene s;
  s.attributes = a;
  const double S = double(o.size), r = shape_radius(a.size, o);
  // Travel 35–45% of the frame: at a ViT's patch size the shape crosses patches — a direction is a
  // question of which patches it occupies early and which late, not of sub-patch shifts — and a large
  // shape's whole path (2r + travel) still fits the frame.
  const double travel = d.uniform(0.35, 0.45) * S;
  const double ux = a.direction == 0 ? -1 : a.direction == 1 ? 1 : 0;
  const double uy = a.direction == 2 ? -1 : a.direction == 3 ? 1 : 0;
  s.dx = ux * travel;
  s.dy = uy * travel;
  const double margin = r + 2;
  // The start is drawn so that the whole path stays inside the frame with `margin`.
  auto start = [&](double delta) {
    const double lo = margin - std::min(0.0, delta), hi = S - margin - std::max(0.0, delta);
    return d.uniform(lo, std::max(lo, hi));
  };
  s.x0 = start(s.dx);
  s.y0 = start(s.dy);
  s.background = d.below(4);
  s.texture_key = uint64_t(d.below(1 << 30));
  const double x_lo = std::min(s.x0, s.x0 + s.dx) - r - 1, x_hi = std::max(s.x0, s.x0 + s.dx) + r + 1;
  const double y_lo = std::min(s.y0, s.y0 + s.dy) - r - 1, y_hi = std::max(s.y0, s.y0 + s.dy) + r + 1;
  const int64_t left = std::max<int64_t>(0, int64_t(std::floor(x_lo)));
  const int64_t top = std::max<int64_t>(0, int64_t(std::floor(y_lo)));
  const int64_t right = std::min<int64_t>(o.size, int64_t(std::ceil(x_hi)) + 1);
  const int64_t bottom = std::min<int64_t>(o.size, int64_t(std::ceil(y_hi)) + 1);
  s.keep = {top, left, bottom - top, right - left};
  return s;
}

HostTensor render_scene(const Scene& s, const SyntheticOptions& o) {
  o.validate();
  const int64_t T = o.frames, N = o.size;
  const double S = double(N), r = shape_radius(s.attributes.size, o);
  Draws d{Philox(o.seed ^ 0x5bd1e995u, s.texture_key)};
  Texture tex{s.background,     d.uniform(0, kPi), d.uniform(0.1, 0.25) * S,
              d.uniform(-2, 2), d.uniform(-2, 2),  {}};
  for (double& v : tex.grid) v = d.uniform(-1, 1);
  const double grey = d.uniform(60, 150), contrast = d.uniform(15, 35);
  const std::array<double, 3> tint{d.uniform(-12, 12), d.uniform(-12, 12), d.uniform(-12, 12)};
  // The background, once: (H, W, 3) as doubles.
  std::vector<double> bg(size_t(N * N * 3));
  for (int64_t y = 0; y < N; ++y)
    for (int64_t x = 0; x < N; ++x) {
      const double p = tex.at(double(x) + 0.5, double(y) + 0.5, S);
      for (int c = 0; c < 3; ++c) bg[size_t((y * N + x) * 3 + c)] = grey + tint[size_t(c)] + contrast * p;
    }
  const std::array<float, 3>& rgb = kColourRgb[size_t(s.attributes.colour)];
  HostTensor out(DType::U8, {T, N, N, 3});
  uint8_t* px = out.data<uint8_t>();
  for (int64_t t = 0; t < T; ++t) {
    const double f = T > 1 ? double(t) / double(T - 1) : 0.0;
    const double cx = s.x0 + s.dx * f, cy = s.y0 + s.dy * f;
    for (int64_t y = 0; y < N; ++y)
      for (int64_t x = 0; x < N; ++x) {
        double cover = 0;
        if (std::abs(double(x) + 0.5 - cx) <= r + 1 && std::abs(double(y) + 0.5 - cy) <= r + 1) {
          for (int sy = 0; sy < 4; ++sy)
            for (int sx = 0; sx < 4; ++sx)
              cover += inside(s.attributes.shape, double(x) + (sx + 0.5) / 4 - cx,
                              double(y) + (sy + 0.5) / 4 - cy, r)
                           ? 1.0 / 16
                           : 0.0;
        }
        for (int c = 0; c < 3; ++c) {
          const double v = bg[size_t((y * N + x) * 3 + c)] * (1 - cover) + double(rgb[size_t(c)]) * cover;
          px[((t * N + y) * N + x) * 3 + c] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
        }
      }
  }
  return out;
}

SyntheticSet make_synthetic_set(const std::string& folder, const SyntheticOptions& o,
                                const std::function<void(int64_t, int64_t)>& progress) {
  o.validate();
  FROST_CHECK(
      loader::video_writing_supported(), Unsupported,
      "synthetic videos: this build cannot write video files (FFmpeg with an H.264 encoder is needed)");
  namespace fs = std::filesystem;
  const std::vector<SceneAttributes> combos = all_attribute_combinations();
  const int64_t C = int64_t(combos.size());
  SyntheticSet set;
  set.folder = folder;
  set.train_path = (fs::path(folder) / "train.jsonl").string();
  set.val_path = (fs::path(folder) / "val.jsonl").string();
  set.vocab_path = (fs::path(folder) / "vocab.txt").string();
  set.train_rows = C * o.train_renderings;
  set.val_rows = C * o.val_renderings;
  set.flip_swaps = {{"left", "right"}};
  for (int64_t k = 0; k < o.val_renderings; ++k)
    for (const SceneAttributes& a : combos) set.val_attributes.push_back(a);

  auto video_name = [](bool train, int64_t i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s-%05lld.mp4", train ? "train" : "val", static_cast<long long>(i));
    return std::string(buf);
  };
  const fs::path stamp = fs::path(folder) / "synthetic.json";
  const std::string want = options_json(o).dump(2) + "\n";
  std::error_code ec;
  if (fs::is_regular_file(stamp, ec) && fs::is_regular_file(set.train_path, ec) &&
      fs::is_regular_file(set.val_path, ec) && fs::is_regular_file(set.vocab_path, ec)) {
    std::ifstream in(stamp);
    const std::string have((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bool complete = have == want;
    for (int64_t i = 0; complete && i < set.train_rows; ++i)
      complete = fs::is_regular_file(fs::path(folder) / "videos" / video_name(true, i), ec);
    for (int64_t i = 0; complete && i < set.val_rows; ++i)
      complete = fs::is_regular_file(fs::path(folder) / "videos" / video_name(false, i), ec);
    if (complete) {
      set.reused = true;
      return set;
    }
  }

  fs::create_directories(fs::path(folder) / "videos", ec);
  FROST_CHECK(!ec, Io, folder << ": cannot create the folder (" << ec.message() << ")");
  fs::remove(stamp, ec);  // a partial set is never taken for a complete one
  const int64_t total = set.train_rows + set.val_rows;
  std::string train_lines, val_lines;
  int64_t done = 0;
  // Train rendering k of combination c is scene index k·C + c; held-out ones follow all training ones.
  for (int split = 0; split < 2; ++split) {
    const bool train = split == 0;
    const int64_t renderings = train ? o.train_renderings : o.val_renderings;
    for (int64_t k = 0; k < renderings; ++k)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t i = k * C + c;
        const uint64_t index = uint64_t(train ? i : set.train_rows + i);
        const Scene scene = draw_scene(combos[size_t(c)], o, index);
        const std::string name = video_name(train, i);
        loader::write_video((fs::path(folder) / "videos" / name).string(), render_scene(scene, o),
                            {.fps = o.fps});
        nlohmann::ordered_json row = {{"video", "videos/" + name},
                                      {"caption", synthetic_caption(scene.attributes)},
                                      {"id", name.substr(0, name.size() - 4)}};
        if (train) row["keep"] = {scene.keep.top, scene.keep.left, scene.keep.height, scene.keep.width};
        (train ? train_lines : val_lines) += row.dump() + "\n";
        if (progress) progress(++done, total);
      }
  }
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nmoving\n";
  const SyntheticWords& w = synthetic_words();
  for (const auto* list : {&w.sizes, &w.colours, &w.shapes, &w.directions})
    for (const std::string& word : *list) vocab += word + "\n";
  const int64_t words = int64_t(std::count(vocab.begin(), vocab.end(), '\n'));
  for (int64_t i = 0; i < o.vocab_size - words; ++i) vocab += "[unused" + std::to_string(i) + "]\n";
  write_text(set.train_path, train_lines);
  write_text(set.val_path, val_lines);
  write_text(set.vocab_path, vocab);
  write_text(stamp.string(), want);
  return set;
}

}  // namespace frost::train
