// The training data pipeline (issue 16): datasets (loader/dataset.h) → micro-batches for train::Trainer,
// built by worker threads ahead of the compute.
//
//   DataPipeline data({read_dataset("train.jsonl")}, tokenizer,
//                     {.batch = 32, .text_length = 12, .frames = 4, .image_size = 32, .seed = 1});
//   MicroBatch b = data.next();          // blocks until ready; data.last_wait_seconds() says how long
//
// Streams. The frame count is part of a compiled graph's shape and the reference never mixes images and
// videos in a batch (spec §3.4), so every source's rows are split into streams by frame count — its video
// rows (video files, frame folders: `frames` frames) and its image rows (1 frame) — and batches take turns
// over the streams: batch k comes from stream k mod S (sources in order, videos before images). A stream
// too small for one batch is an error.
//
// Order. Stream s's j-th batch is its epoch e = j / n_s (n_s = its rows / batch, the remainder dropped as
// the reference's drop_last) at position p = j mod n_s: rows perm_{s,e}[p·B .. p·B + B - 1] of a
// Fisher–Yates shuffle drawn from Philox(seed, s·2^32 + e). Every random choice of an item — frame sampling
// ('rand'), the crop and the flip — comes from Philox(seed, item key), the key a function of (s, e, p, slot).
// So batch k is a pure function of (seed, k): the same whatever the worker count (a test), and a resumed
// run continues exactly where it stopped (`first_batch`).
//
// Items. A worker decodes the sampled frames, applies the train transform (RandomResizedCrop + horizontal
// flip, the same for every frame; a row's `keep` box is respected) or the test transform, tokenizes the
// caption (truncated to text_length - 2 word pieces, [CLS] … [SEP], padded) — swapping the words of
// `flip_swaps` in the caption of a mirrored clip — and writes its slot of the batch.
//
// Unreadable items (a video that cannot be opened or decoded, a frame folder of bad images): with `strict`,
// next() throws the item's error naming the file; otherwise the item is replaced by another row of its
// stream (attempt a draws row ⌊u·n⌋ from Philox(seed ^ kReplace, item key), up to 32 attempts), counted in
// replaced_items(), and each bad video is reported once through `on_warning`. Replacements are
// deterministic too, since a file's readability does not depend on timing.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loader/dataset.h"
#include "loader/preprocess.h"
#include "loader/tokenizer.h"
#include "loader/video.h"
#include "train/trainer.h"

namespace frost::train {

struct PipelineOptions {
  int64_t batch = 0;        // pairs per micro-batch, > 0
  int64_t text_length = 0;  // tokens per caption with [CLS] and [SEP], >= 2
  int64_t frames = 0;       // frames per video clip, > 0 (image rows give 1-frame clips)
  int64_t image_size = 0;   // the clips' side (the config's image_size), > 0
  loader::FrameSampling sampling = loader::FrameSampling::Rand;  // training: 'rand', as the reference
  bool augment = true;                     // the train transform; false: the test transform (validation)
  loader::TrainTransform train_transform;  // its size is image_size
  loader::TestTransform test_transform;    // its size is image_size
  // Words a horizontal flip swaps in a caption (whole words, ASCII case-insensitive): {"left", "right"} for
  // the synthetic set. Empty for ordinary data.
  std::vector<std::pair<std::string, std::string>> flip_swaps;
  bool token_type_ids = false;  // BERT configs: a zero token_type_ids tensor in each batch
  uint64_t seed = 0;
  int workers = 1;      // decoding threads, >= 1
  int prefetch = 2;     // batches built ahead of the consumer, >= 1
  bool strict = false;  // an unreadable item stops the run (else it is replaced and counted)
  // Decoded videos kept in memory, all their frames, up to this many bytes (0: none): for small datasets
  // read many times, where decoding would cost more than the step. Videos are kept first come, first
  // kept, never evicted; one of more than a sixteenth of the budget, or of more than 1024 frames, is not.
  int64_t cache_bytes = 0;
  int64_t first_batch = 0;  // the batch index next() starts at (resuming)
  loader::VideoLimits limits;
  std::function<void(const std::string&)> on_warning;  // called from worker threads, serialised
  // Throws InvalidArgument naming the option.
  void validate() const;
};

// The caption with the words of each pair swapped (whole words: maximal runs of ASCII letters and digits
// and non-ASCII bytes; compared case-insensitively; the replacement written as given).
std::string swap_words(const std::string& caption,
                       const std::vector<std::pair<std::string, std::string>>& pairs);

class DataPipeline {
 public:
  DataPipeline(std::vector<loader::Dataset> sources, const loader::WordPieceTokenizer& tokenizer,
               PipelineOptions options);
  ~DataPipeline();
  DataPipeline(const DataPipeline&) = delete;
  DataPipeline& operator=(const DataPipeline&) = delete;

  // The next batch (index batches_delivered()): I64/F32 (B, L) text, F32 (B, F, 3, S, S) video with F the
  // stream's frame count, sample ids "<row id>". Blocks until the workers have built it; throws a worker's
  // error (strict mode, or 32 unreadable replacements in a row).
  MicroBatch next();

  struct Stream {
    int64_t source = 0;  // index into the sources
    int64_t frames = 0;  // 1 for images
    std::vector<int64_t> rows;
    int64_t batches_per_epoch = 0;
  };
  const std::vector<Stream>& streams() const { return streams_; }
  // The stream batch k comes from.
  const Stream& stream_of(int64_t k) const { return streams_[size_t(k % int64_t(streams_.size()))]; }
  // S × the fewest batches per epoch of any stream: one pass over the smallest stream, every stream
  // taking its turn (the reference zips its loaders, which stops at the shortest).
  int64_t batches_per_epoch() const;
  int64_t batches_delivered() const { return delivered_; }
  double last_wait_seconds() const { return last_wait_; }
  double total_wait_seconds() const { return total_wait_; }
  int64_t replaced_items() const;  // in the batches delivered so far (not those being prefetched)
  int64_t unreadable_videos() const;

 private:
  struct Slot;
  struct Item {
    int64_t batch = 0, slot = 0;
  };
  void worker_loop();
  void prepare(int64_t k);  // allocates the ring slot of batch k (lock held)
  void build_item(int64_t k, int64_t slot, Slot& into);
  std::shared_ptr<const std::vector<int64_t>> permutation(int64_t stream, int64_t epoch);
  // The frames of a video: from the cache, or decoded (and cached when it fits the budget).
  std::unique_ptr<loader::FrameSource> open_source(int64_t source, int64_t video);

  std::vector<loader::Dataset> sources_;
  const loader::WordPieceTokenizer& tokenizer_;
  PipelineOptions o_;
  std::vector<Stream> streams_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::unique_ptr<Slot>> ring_;  // batch k in ring_[k % prefetch]
  int64_t next_item_ = 0;                    // the next item a worker takes: batch·B + slot
  int64_t delivered_ = 0;
  bool stopping_ = false;
  std::map<std::pair<int64_t, int64_t>, std::shared_ptr<const std::vector<int64_t>>> perms_;
  std::set<std::pair<int64_t, int64_t>> bad_videos_;  // (source, video)
  int64_t replaced_ = 0;
  std::mutex warn_mu_;
  std::set<std::string> damage_said_;  // files whose damaged data was already said (once per file)

  std::mutex cache_mu_;
  std::map<std::pair<int64_t, int64_t>, std::shared_ptr<const HostTensor>> cache_;
  int64_t cache_used_ = 0;

  double last_wait_ = 0, total_wait_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace frost::train
