// frost index --weights W [--config C] --out INDEX [PATHS... | --list FILE] [--update] [--remove PATH...]
//
// Builds or extends a retrieval index (retrieval/index.h) of videos, frame folders and images: each item
// sampled and preprocessed as the reference tests (images as one-frame clips), embedded with the video tower,
// normalised and stored with its path, size, modification time and sampled frames. An existing INDEX is
// extended: items already in it are skipped (or re-encoded with --update when their size or time changed,
// and reported otherwise), --remove drops items. The index is written atomically every --save-every items
// and at the end, under a lock (INDEX.lock): a killed run loses at most the items since its last save, and
// running it again resumes — every finished item is kept exactly once. Unreadable items are skipped with a
// warning and listed at the end (errors under --strict). Decoding runs on a worker thread ahead of the
// encoder (ClipPrefetcher).
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_files.h"
#include "cli/retrieval_common.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "loader/files.h"
#include "loader/image.h"
#include "loader/video.h"
#include "model/encoder.h"
#include "retrieval/index.h"

namespace frost::cli {
namespace {

struct IndexOptions {
  std::vector<std::string> inputs;
  std::string list;
  std::string weights;
  std::string config;  // "": the checkpoint's, else base
  std::string backend = "cpu";
  std::string out;
  std::vector<std::string> remove;
  bool update = false;
  bool f16 = false;
  int64_t batch = 8;
  int64_t save_every = 256;
  CLI::App* cmd = nullptr;
};

std::vector<std::string> read_list(const std::string& path) {
  std::vector<std::string> out;
  for (const StreamLine& l : read_stream_lines(path, "paths", "--list")) {
    FROST_CHECK(loader::is_valid_utf8(l.text), InvalidArgument,
                path << ":" << l.number << ": the path is not valid UTF-8");
    out.push_back(l.text);
  }
  return out;
}

// A progress line on stderr (items/s and the time left), rewritten in place on a terminal, every 10% else.
class Progress {
 public:
  explicit Progress(size_t total) : total_(total), tty_(::isatty(2) != 0), start_(clock::now()) {}
  void update(size_t done) {
    if (total_ == 0) return;
    const double s = std::chrono::duration<double>(clock::now() - start_).count();
    const size_t decile = done * 10 / total_;
    if (!tty_ && decile == last_decile_ && done != total_) return;
    last_decile_ = decile;
    const double rate = s > 0 ? double(done) / s : 0;
    std::fprintf(stderr, "%sindexed %zu/%zu items, %.1f items/s, %.0f s left%s", tty_ ? "\r" : "", done,
                 total_, rate, rate > 0 ? double(total_ - done) / rate : 0.0, tty_ ? "   " : "\n");
    if (tty_ && done == total_) std::fputc('\n', stderr);
  }

 private:
  using clock = std::chrono::steady_clock;
  size_t total_;
  bool tty_;
  clock::time_point start_;
  size_t last_decile_ = 0;
};

// Decodes clips on a worker thread ahead of the encoder — a bounded queue of `ahead` clips, handed out in
// input order — so decoding the next items overlaps encoding the current batch. A failure that is the input's
// fault comes back as that item's error; one that is not (a bug, a missing capability) is rethrown by next().
class ClipPrefetcher {
 public:
  struct Item {
    loader::Clip clip;
    std::string error;  // empty: decoded
  };
  ClipPrefetcher(const std::vector<std::string>& paths,
                 std::function<loader::ClipOptions(const std::string&)> options, size_t ahead)
      : paths_(paths),
        options_(std::move(options)),
        ahead_(std::max<size_t>(1, ahead)),
        worker_([this] { work(); }) {}
  ~ClipPrefetcher() {
    {
      std::lock_guard<std::mutex> l(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }
  ClipPrefetcher(const ClipPrefetcher&) = delete;
  ClipPrefetcher& operator=(const ClipPrefetcher&) = delete;

  Item next() {
    std::unique_lock<std::mutex> l(mutex_);
    changed_.wait(l, [&] { return !queue_.empty() || fatal_; });
    if (queue_.empty()) std::rethrow_exception(fatal_);
    Item item = std::move(queue_.front());
    queue_.pop_front();
    changed_.notify_all();
    return item;
  }

 private:
  void work() {
    for (const std::string& in : paths_) {
      Item item;
      try {
        item.clip = loader::load_clip(in, options_(in));
      } catch (const Error& e) {
        if (e.category() == ErrorCategory::Internal || e.category() == ErrorCategory::Unsupported) {
          std::lock_guard<std::mutex> l(mutex_);
          fatal_ = std::current_exception();
          changed_.notify_all();
          return;
        }
        item.error = e.what();
        if (item.error.rfind(in, 0) != 0) item.error = in + ": " + item.error;
      } catch (...) {
        std::lock_guard<std::mutex> l(mutex_);
        fatal_ = std::current_exception();
        changed_.notify_all();
        return;
      }
      std::unique_lock<std::mutex> l(mutex_);
      changed_.wait(l, [&] { return queue_.size() < ahead_ || stop_; });
      if (stop_) return;
      queue_.push_back(std::move(item));
      changed_.notify_all();
    }
  }

  const std::vector<std::string>& paths_;
  std::function<loader::ClipOptions(const std::string&)> options_;
  size_t ahead_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> queue_;
  std::exception_ptr fatal_;
  bool stop_ = false;
  std::thread worker_;  // last: starts once everything above exists
};

void run_index(const IndexOptions& opt) {
  check_backend(opt.backend);
  // Paths in their lexically normal form ("./a.mp4" and "a.mp4" are one item), each once.
  auto normal = [](const std::string& p) { return std::filesystem::path(p).lexically_normal().string(); };
  std::vector<std::string> inputs;
  std::unordered_set<std::string> seen;
  auto take = [&](const std::string& p) {
    if (seen.insert(normal(p)).second) inputs.push_back(normal(p));
  };
  // A folder is a frame folder (one clip) or a collection: its videos and sub-folders (loader/video.h).
  size_t empty_folders = 0;
  auto take_input = [&](const std::string& p) {
    if (loader::file_kind(p) != loader::FileKind::Directory) return take(p);
    const loader::FolderClips found = loader::clips_in_folder(p);
    const std::vector<std::string>& clips = found.clips;
    if (!found.ignored.empty())
      warn(std::to_string(found.ignored.size()) + " image file" + (found.ignored.size() > 1 ? "s" : "") +
           " beside videos in " + display(p) + " left out (e.g. " + display(found.ignored[0]) +
           "): a folder of frames holds frames only — give an image itself to index it");
    if (clips.empty()) {
      warn(display(p) +
           " holds no frames and no video files (.mp4, .mkv, .webm, .avi, .mov, …): nothing to index");
      ++empty_folders;
    }
    for (const std::string& c : clips) take(c);
  };
  for (const std::string& p : opt.inputs) take_input(p);
  if (!opt.list.empty())
    for (const std::string& p : read_list(opt.list)) take_input(p);
  std::vector<std::string> to_remove;
  for (const std::string& p : opt.remove) to_remove.push_back(normal(p));
  FROST_CHECK(!inputs.empty() || !opt.remove.empty(), InvalidArgument,
              "nothing to do: give videos, frame folders, folders of videos or images to index (or --list "
              "FILE), or --remove"
                  << (empty_folders > 0 ? " (the folders given hold no frames or videos)" : ""));
  std::vector<std::string> read_files = {opt.weights};
  if (!opt.list.empty()) read_files.push_back(opt.list);
  if (!opt.config.empty() && opt.config != "base" && opt.config != "tiny") read_files.push_back(opt.config);
  read_files.insert(read_files.end(), inputs.begin(), inputs.end());
  loader::check_output_path(opt.out, read_files);

  const retrieval::IndexLock lock(opt.out);
  const model::FitConfig config = config_for(opt.config, opt.weights);
  model::WeightSet weights = load_towers(config, opt.weights, model::Towers::Video);
  const std::string hash = video_hash_of(opt.weights, weights);
  const int64_t F = config.video.num_frames, S = config.video.image_size;

  std::optional<retrieval::Index> loaded;
  if (std::filesystem::exists(opt.out)) {
    loaded = retrieval::Index::load(opt.out);
    FROST_CHECK(model_identity(loaded->config_json()) == model_identity(config), InvalidArgument,
                opt.out << " was made with another model config (" << loaded->config_json()
                        << ") — index into a new file");
    FROST_CHECK(loaded->video_hash() == hash, InvalidArgument,
                opt.out << " was made with other video weights (hash " << loaded->video_hash().substr(0, 12)
                        << "…, these are " << hash.substr(0, 12) << "…) — index into a new file");
    FROST_CHECK(loaded->frames() == F && loaded->dim() == config.projection_dim, BadFile,
                opt.out << ": " << loaded->frames() << " frames and " << loaded->dim()
                        << "-wide embeddings do not fit the config's " << F << " and "
                        << config.projection_dim);
  }
  retrieval::Index index =
      loaded ? std::move(*loaded) : retrieval::Index(config.to_json(), hash, config.projection_dim, F);
  const size_t removed = index.remove(to_remove);
  if (removed < to_remove.size())
    warn(std::to_string(to_remove.size() - removed) + " of the --remove paths were not in the index");

  // What to encode: new items, and changed ones with --update.
  std::vector<std::string> todo;
  size_t unchanged = 0, changed = 0;
  std::vector<std::pair<std::string, std::string>> skipped;
  std::vector<retrieval::IndexItem> stamps;
  for (const std::string& in : inputs) {
    retrieval::IndexItem item{in, 0, 0, {}};
    try {
      const loader::FileKind kind = loader::file_kind(in);
      FROST_CHECK(
          kind == loader::FileKind::Regular || kind == loader::FileKind::Directory, BadFile,
          in << " is " << loader::describe_path(in) << " — give video files, frame folders or images");
      const ItemStamp st = stamp_of(in);
      item.size = st.size;
      item.mtime_ns = st.mtime_ns;
    } catch (const Error& e) {
      if (e.category() == ErrorCategory::Internal) throw;
      warn("skipping " + std::string(e.what()));
      skipped.emplace_back(in, e.what());
      continue;
    }
    if (const std::optional<size_t> at = index.find(in)) {
      const retrieval::IndexItem& old = index.item(*at);
      if (old.size == item.size && old.mtime_ns == item.mtime_ns) {
        ++unchanged;
        continue;
      }
      if (!opt.update) {
        ++changed;
        continue;
      }
    }
    todo.push_back(in);
    stamps.push_back(std::move(item));
  }

  model::DualEncoder encoder(config, std::move(weights), std::nullopt,
                             {.backend = opt.backend, .batch_size = opt.batch});
  Progress progress(todo.size());
  size_t done = 0, since_save = 0, encoded = 0;
  // Pending clips of one frame count (videos F, images 1), encoded as a batch.
  struct Pending {
    int64_t frames;
    HostTensor batch;
    std::vector<retrieval::IndexItem> items;
  };
  Pending videos{F, HostTensor(), {}};  // batch tensors made on first use
  Pending images{1, HostTensor(), {}};
  auto flush = [&](Pending& p) {
    if (p.items.empty()) return;
    const int64_t n = int64_t(p.items.size());
    HostTensor part(DType::F32, {n, p.frames, 3, S, S});
    std::memcpy(part.raw(), p.batch.raw(), part.bytes());
    const model::Embeddings e = encoder.encode_clips(part);
    const int64_t P = e.embedding.shape()[1];
    for (int64_t i = 0; i < n; ++i) {
      try {
        index.add(std::move(p.items[size_t(i)]),
                  std::span<const float>(e.embedding.data<float>() + i * P, size_t(P)));
        ++encoded;
      } catch (const Error& err) {  // a non-finite embedding: that item's fault
        warn("skipping " + std::string(err.what()));
        skipped.emplace_back(p.items[size_t(i)].path, err.what());
      }
    }
    done += size_t(n);
    since_save += size_t(n);
    p.items.clear();
    progress.update(done);
    // Every --save-every items, or every eighth of the index once that is more: each save rewrites the
    // whole file, so a large index is not rewritten every few hundred items.
    if (since_save >= std::max(size_t(opt.save_every), index.size() / 8)) {
      index.save(opt.out, opt.f16);
      since_save = 0;
    }
  };
  ClipPrefetcher prefetch(
      todo,
      [&](const std::string& in) {
        loader::ClipOptions clip;
        clip.sampling.num_frames = loader::is_image_file(in) ? 1 : F;
        clip.test_transform.size = S;
        clip.limits.on_warning = warn;  // from the loading threads: warn() is thread-safe
        return clip;
      },
      // Two batches ahead, at most 512 MB of decoded clips.
      size_t(std::clamp<int64_t>(int64_t(512 << 20) / (F * 3 * S * S * 4), 1, 2 * opt.batch)));
  for (size_t k = 0; k < todo.size(); ++k) {
    const std::string& in = todo[k];
    Pending& p = loader::is_image_file(in) ? images : videos;
    ClipPrefetcher::Item decoded = prefetch.next();
    if (!decoded.error.empty()) {
      std::string why = decoded.error;
      if (index.find(in)) why += " (its previous entry in the index is kept)";
      warn("skipping " + why);
      skipped.emplace_back(in, why);
      ++done;
      progress.update(done);
      continue;
    }
    retrieval::IndexItem item = std::move(stamps[k]);
    item.frames = decoded.clip.indices;
    const size_t clip_bytes = size_t(p.frames * 3 * S * S) * sizeof(float);
    if (p.batch.shape().rank() == 0) p.batch = HostTensor(DType::F32, {opt.batch, p.frames, 3, S, S});
    std::memcpy(static_cast<char*>(p.batch.raw()) + p.items.size() * clip_bytes, decoded.clip.pixels.raw(),
                clip_bytes);
    p.items.push_back(std::move(item));
    if (int64_t(p.items.size()) == opt.batch) flush(p);
  }
  flush(videos);
  flush(images);
  FROST_CHECK(inputs.empty() || skipped.size() < inputs.size(), BadFile,
              "none of the " << inputs.size() << " items could be indexed (see the warnings above); "
                             << opt.out << " is unchanged");
  index.save(opt.out, opt.f16);
  std::cout << "wrote " << display(opt.out) << ": " << index.size() << " items (" << encoded << " encoded, "
            << unchanged << " already indexed, " << removed << " removed";
  if (changed > 0) std::cout << ", " << changed << " changed since indexed — --update re-encodes them";
  std::cout << ")\n";
  if (!skipped.empty()) {
    std::cout << "skipped " << skipped.size() << " items:\n";
    for (const auto& [path, why] : skipped) std::cout << "  " << display(why) << "\n";
  }
}

}  // namespace

void add_index_command(CLI::App& app) {
  auto opt = std::make_shared<IndexOptions>();
  CLI::App* cmd = app.add_subcommand(
      "index", "Index videos, frame folders and images for search (builds or extends INDEX)");
  opt->cmd = cmd;
  cmd->add_option("inputs", opt->inputs,
                  "video files, images, frame folders (a folder of .jpg/.png frames is one clip) and folders "
                  "of videos (every video file and sub-folder in them)");
  cmd->add_option("--list", opt->list,
                  "more inputs, one path a line: a file, a pipe, or - for standard input");
  cmd->add_option("--weights", opt->weights, "a Frozen in Time checkpoint (.safetensors)")->required();
  cmd->add_option("--config", opt->config,
                  "base, tiny, or a JSON config file (default: the one the checkpoint records, else base)");
  cmd->add_option("--backend", opt->backend, "the backend to run on (frost --version lists them)");
  cmd->add_option("--out", opt->out, "the index file: created, or extended when it exists")->required();
  cmd->add_option("--remove", opt->remove, "paths to drop from the index")->take_all();
  cmd->add_flag("--update", opt->update, "re-encode items whose size or modification time changed");
  cmd->add_flag("--f16", opt->f16, "store the embeddings as F16 (half the file; scores change by ~1e-3)");
  cmd->add_option("--batch", opt->batch, "clips per run")->check(CLI::Range(int64_t(1), int64_t(4096)));
  cmd->add_option("--save-every", opt->save_every,
                  "write the index every this many items (a killed run resumes)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  set_command(cmd, [opt] { run_index(*opt); });
}

}  // namespace frost::cli
