#include "train/data_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>

#include "engine/error.h"
#include "engine/random.h"
#include "loader/image.h"

namespace frost::train {
namespace {

constexpr uint64_t kReplace = 0x9e3779b97f4a7c15ull;  // the replacement draws' key, apart from the item's
constexpr int kAttempts = 32;

bool word_byte(unsigned char c) {
  return std::isalnum(c) != 0 || c >= 0x80;
}

bool same_word(const std::string& a, size_t at, size_t len, const std::string& b) {
  if (len != b.size()) return false;
  for (size_t i = 0; i < len; ++i)
    if (std::tolower(static_cast<unsigned char>(a[at + i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// The item key: unique per (stream, epoch, row position in the epoch).
uint64_t item_key(int64_t stream, int64_t epoch, int64_t position) {
  return (uint64_t(stream) << 56) ^ (uint64_t(epoch) << 36) ^ uint64_t(position);
}

}  // namespace

std::string swap_words(const std::string& caption,
                       const std::vector<std::pair<std::string, std::string>>& pairs) {
  if (pairs.empty()) return caption;
  std::string out;
  out.reserve(caption.size());
  for (size_t at = 0; at < caption.size();) {
    if (!word_byte(static_cast<unsigned char>(caption[at]))) {
      out += caption[at++];
      continue;
    }
    size_t end = at;
    while (end < caption.size() && word_byte(static_cast<unsigned char>(caption[end]))) ++end;
    const std::string* replacement = nullptr;
    for (const auto& [a, b] : pairs) {
      if (same_word(caption, at, end - at, a))
        replacement = &b;
      else if (same_word(caption, at, end - at, b))
        replacement = &a;
      if (replacement != nullptr) break;
    }
    out += replacement != nullptr ? *replacement : caption.substr(at, end - at);
    at = end;
  }
  return out;
}

void PipelineOptions::validate() const {
  FROST_CHECK(batch > 0, InvalidArgument, "data: the batch must be positive, got " << batch);
  FROST_CHECK(text_length >= 2, InvalidArgument,
              "data: text_length " << text_length << " leaves no room for [CLS] and [SEP]");
  FROST_CHECK(frames > 0, InvalidArgument, "data: frames must be positive, got " << frames);
  FROST_CHECK(image_size > 0, InvalidArgument, "data: image_size must be positive, got " << image_size);
  FROST_CHECK(workers >= 1 && workers <= 256, InvalidArgument,
              "data: workers must be 1..256, got " << workers);
  FROST_CHECK(prefetch >= 1 && prefetch <= 64, InvalidArgument,
              "data: prefetch must be 1..64 batches, got " << prefetch);
  FROST_CHECK(cache_bytes >= 0, InvalidArgument, "data: cache_bytes must be >= 0, got " << cache_bytes);
  FROST_CHECK(first_batch >= 0, InvalidArgument, "data: first_batch must be >= 0, got " << first_batch);
  for (const auto& [a, b] : flip_swaps) {
    FROST_CHECK(!a.empty() && !b.empty() && a != b, InvalidArgument,
                "data: a flip swap needs two different words, got '" << a << "' and '" << b << "'");
    for (const std::string& w : {a, b})
      FROST_CHECK(
          std::all_of(w.begin(), w.end(), [](char c) { return word_byte(static_cast<unsigned char>(c)); }),
          InvalidArgument, "data: flip-swap word '" << w << "' must be one word (letters and digits)");
  }
}

struct DataPipeline::Slot {
  MicroBatch batch;
  int64_t filled = 0;
  int64_t replaced = 0;  // rows of this batch that replace unreadable ones
  std::exception_ptr error;
};

DataPipeline::DataPipeline(std::vector<loader::Dataset> sources, const loader::WordPieceTokenizer& tokenizer,
                           PipelineOptions options)
    : sources_(std::move(sources)), tokenizer_(tokenizer), o_(std::move(options)) {
  o_.validate();
  FROST_CHECK(!sources_.empty(), InvalidArgument, "data: no dataset given");
  // Damaged data the reference's libraries read anyway (loader/image.h) is read, and said once per
  // message; under `strict`, or with nobody to tell, it makes the item unreadable like any bad file.
  if (!o_.limits.on_warning)
    o_.limits.on_warning = [this](const std::string& message) {
      if (o_.strict || !o_.on_warning) throw_error(ErrorCategory::BadFile, message);
      // Once per file: a video's message names the frames of one read, which change with 'rand' sampling.
      const size_t cut = message.find(": damaged ");
      std::lock_guard<std::mutex> lock(warn_mu_);
      if (damage_said_.insert(message.substr(0, cut)).second) o_.on_warning(message);
    };
  o_.train_transform.size = o_.image_size;
  o_.test_transform.size = o_.image_size;
  for (size_t s = 0; s < sources_.size(); ++s) {
    Stream videos{int64_t(s), o_.frames, {}, 0}, images{int64_t(s), 1, {}, 0};
    const loader::Dataset& d = sources_[s];
    for (size_t r = 0; r < d.rows.size(); ++r)
      (loader::is_image_file(d.rows[r].video) ? images : videos).rows.push_back(int64_t(r));
    for (Stream* st : {&videos, &images}) {
      if (st->rows.empty()) continue;
      st->batches_per_epoch = int64_t(st->rows.size()) / o_.batch;
      FROST_CHECK(
          st->batches_per_epoch > 0, InvalidArgument,
          d.path << ": its " << st->rows.size() << (st->frames == 1 && st == &images ? " image" : " video")
                 << " rows are fewer than one batch of " << o_.batch
                 << " (images and videos are batched apart: the frame count is part of the step's shape)");
      streams_.push_back(std::move(*st));
    }
  }
  ring_.resize(size_t(o_.prefetch));
  for (auto& slot : ring_) slot = std::make_unique<Slot>();
  delivered_ = o_.first_batch;
  next_item_ = o_.first_batch * o_.batch;
  for (int64_t k = delivered_; k < delivered_ + o_.prefetch; ++k) prepare(k);
  for (int w = 0; w < o_.workers; ++w) workers_.emplace_back([this] { worker_loop(); });
}

DataPipeline::~DataPipeline() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

int64_t DataPipeline::batches_per_epoch() const {
  int64_t fewest = streams_.front().batches_per_epoch;
  for (const Stream& s : streams_) fewest = std::min(fewest, s.batches_per_epoch);
  return fewest * int64_t(streams_.size());
}

int64_t DataPipeline::replaced_items() const {
  std::lock_guard<std::mutex> lock(mu_);
  return replaced_;
}

int64_t DataPipeline::unreadable_videos() const {
  std::lock_guard<std::mutex> lock(mu_);
  return int64_t(bad_videos_.size());
}

void DataPipeline::prepare(int64_t k) {
  Slot& slot = *ring_[size_t(k % o_.prefetch)];
  const int64_t B = o_.batch, L = o_.text_length, F = stream_of(k).frames, S = o_.image_size;
  slot.filled = 0;
  slot.replaced = 0;
  slot.error = nullptr;
  slot.batch.input_ids = HostTensor(DType::I64, {B, L});
  slot.batch.attention_mask = HostTensor(DType::F32, {B, L});
  slot.batch.token_type_ids = o_.token_type_ids ? HostTensor(DType::I64, {B, L}) : HostTensor();
  slot.batch.video = HostTensor(DType::F32, {B, F, 3, S, S});
  slot.batch.sample_ids.assign(size_t(B), "");
}

MicroBatch DataPipeline::next() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  Slot& slot = *ring_[size_t(delivered_ % o_.prefetch)];
  done_cv_.wait(lock, [&] { return slot.filled == o_.batch; });
  last_wait_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  total_wait_ += last_wait_;
  if (slot.error) std::rethrow_exception(slot.error);  // the run stops: nothing is delivered
  MicroBatch out = std::move(slot.batch);
  replaced_ += slot.replaced;
  slot.batch = MicroBatch();
  prepare(delivered_ + o_.prefetch);
  ++delivered_;
  lock.unlock();
  work_cv_.notify_all();
  return out;
}

void DataPipeline::worker_loop() {
  for (;;) {
    int64_t k = 0, b = 0;
    Slot* slot = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || next_item_ / o_.batch < delivered_ + o_.prefetch; });
      if (stopping_) return;
      k = next_item_ / o_.batch;
      b = next_item_ % o_.batch;
      ++next_item_;
      slot = ring_[size_t(k % o_.prefetch)].get();
    }
    std::exception_ptr error;
    try {
      build_item(k, b, *slot);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (error && !slot->error) slot->error = error;
      if (++slot->filled == o_.batch) done_cv_.notify_all();
    }
  }
}

std::shared_ptr<const std::vector<int64_t>> DataPipeline::permutation(int64_t stream, int64_t epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = perms_.find({stream, epoch});
  if (it != perms_.end()) return it->second;
  // Fisher–Yates from the end, j uniform in [0, i]: numpy's and torch's randperm differ in their streams;
  // the point is a portable, seeded order, not theirs.
  std::vector<int64_t> p = streams_[size_t(stream)].rows;
  const Philox rng(o_.seed, (uint64_t(stream) << 32) + uint64_t(epoch));
  for (int64_t i = int64_t(p.size()) - 1; i > 0; --i) {
    const auto w = rng.block(uint64_t(i));
    const uint64_t r = (uint64_t(w[0]) << 32) | w[1];
    std::swap(p[size_t(i)], p[size_t(r % uint64_t(i + 1))]);
  }
  auto shared = std::make_shared<const std::vector<int64_t>>(std::move(p));
  // Keep the two latest epochs of each stream: workers may straddle an epoch boundary.
  for (auto old = perms_.begin(); old != perms_.end();)
    old = old->first.first == stream && old->first.second < epoch - 1 ? perms_.erase(old) : std::next(old);
  perms_.emplace(std::make_pair(stream, epoch), shared);
  return shared;
}

std::unique_ptr<loader::FrameSource> DataPipeline::open_source(int64_t source, int64_t video) {
  const std::string& path = sources_[size_t(source)].videos[size_t(video)];
  if (o_.cache_bytes == 0) return loader::open_frame_source(path, o_.limits);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find({source, video});
    if (it != cache_.end()) return loader::frames_in_memory(*it->second, path);
  }
  auto file = loader::open_frame_source(path, o_.limits);
  if (file->frame_count() > 1024) return file;
  auto read_all = [&] {
    std::vector<int64_t> all(static_cast<size_t>(file->frame_count()));
    std::iota(all.begin(), all.end(), int64_t(0));
    return file->read(all);
  };
  std::shared_ptr<const HostTensor> frames;
  try {
    frames = std::make_shared<const HostTensor>(read_all());
  } catch (const loader::FrameCountChanged&) {  // damaged data: the count is exact now
    frames = std::make_shared<const HostTensor>(read_all());
  }
  const int64_t bytes = int64_t(frames->bytes());
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (bytes <= o_.cache_bytes / 16 && cache_used_ + bytes <= o_.cache_bytes &&
        cache_.emplace(std::make_pair(source, video), frames).second)
      cache_used_ += bytes;
  }
  return loader::frames_in_memory(*frames, path);
}

void DataPipeline::build_item(int64_t k, int64_t b, Slot& into) {
  const int64_t S_count = int64_t(streams_.size());
  const int64_t s = k % S_count, j = k / S_count;
  const Stream& stream = streams_[size_t(s)];
  const int64_t epoch = j / stream.batches_per_epoch,
                position = (j % stream.batches_per_epoch) * o_.batch + b;
  const auto perm = permutation(s, epoch);
  const uint64_t key = item_key(s, epoch, position);
  const loader::Dataset& data = sources_[size_t(stream.source)];
  const Philox replace(o_.seed ^ kReplace, key);

  std::exception_ptr first_error;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const int64_t row =
        attempt == 0
            ? (*perm)[size_t(position)]
            : stream.rows[std::min(stream.rows.size() - 1, size_t(double(replace.uniform(uint64_t(attempt))) *
                                                                  double(stream.rows.size())))];
    const int64_t video = data.video_of_row[size_t(row)];
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (bad_videos_.count({stream.source, video}) != 0) continue;  // warned when it was found
    }
    const loader::DatasetRow& r = data.rows[size_t(row)];
    loader::Clip clip;
    try {
      loader::ClipOptions co;
      co.sampling = {.num_frames = stream.frames, .mode = o_.sampling, .seed = o_.seed, .sample = key};
      co.train = o_.augment;
      co.train_transform = o_.train_transform;
      co.test_transform = o_.test_transform;
      co.keep = r.keep;
      co.limits = o_.limits;
      auto source = open_source(stream.source, video);
      clip = loader::load_clip(*source, co);
    } catch (const Error& e) {
      // A file problem (BadFile, Io, Unsupported) is the item's; anything else is the pipeline's.
      if (e.category() != ErrorCategory::BadFile && e.category() != ErrorCategory::Io &&
          e.category() != ErrorCategory::Unsupported && e.category() != ErrorCategory::InvalidArgument)
        throw;
      if (o_.strict) throw;
      bool fresh = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        fresh = bad_videos_.insert({stream.source, video}).second;
      }
      if (fresh && o_.on_warning) {
        std::lock_guard<std::mutex> lock(warn_mu_);
        o_.on_warning(std::string("skipping an unreadable item (its rows are replaced by others): ") +
                      e.what());
      }
      if (!first_error) first_error = std::current_exception();
      continue;
    }
    if (attempt > 0) {  // counted when the batch is delivered: workers run ahead of the consumer
      std::lock_guard<std::mutex> lock(mu_);
      ++into.replaced;
    }
    // The caption, mirrored with the clip, tokenized to exactly L tokens.
    const std::string caption = clip.flipped ? swap_words(r.caption, o_.flip_swaps) : r.caption;
    const loader::TokenBatch t =
        tokenizer_.encode_batch({caption}, {.max_length = o_.text_length, .pad_to_max = true});
    const int64_t L = o_.text_length;
    std::memcpy(into.batch.input_ids.data<int64_t>() + b * L, t.input_ids.raw(), size_t(L) * sizeof(int64_t));
    for (int64_t i = 0; i < L; ++i)
      into.batch.attention_mask.data<float>()[b * L + i] = float(t.attention_mask.data<int64_t>()[i]);
    std::memcpy(into.batch.video.data<float>() + b * clip.pixels.numel(), clip.pixels.raw(),
                clip.pixels.bytes());
    into.batch.sample_ids[size_t(b)] = r.id;
    return;
  }
  if (first_error) {
    try {
      std::rethrow_exception(first_error);
    } catch (const Error& e) {
      FROST_FAIL(BadFile, data.path << ": " << kAttempts
                                    << " items in a row could not be read; the first: " << e.what());
    }
  }
  FROST_FAIL(BadFile, data.path << ": " << kAttempts
                                << " items in a row could not be read (their videos were "
                                << "already found unreadable)");
}

}  // namespace frost::train
