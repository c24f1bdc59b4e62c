// The retrieval index: normalised video embeddings and what they were made from, in one safetensors file.
//
//   embeddings      F32 (N, P) rows of unit norm (F16 when saved with f16: halves the file; read back as F32)
//   item.path       U8 (bytes): every item's path as given, concatenated;  item.path_end I64 (N): end offsets
//   item.size       I64 (N): the file's size in bytes when encoded (a frame folder: the sum of its files)
//   item.mtime_ns   I64 (N): its modification time, ns since the epoch (a folder: the newest file's)
//   item.frames     I64 (N, F): the frame indices sampled (-1 past an item's own count: an image has one)
//   metadata "frost.index" (JSON): format, count, dim, frames (F), config (the model config's JSON) and
//   video_hash (model/weights.h video_tower_hash: the video tower the embeddings came from)
//
//   Index ix(config_json, video_hash, 256, 4);
//   ix.add({.path = "a.mp4", .size = ..., .mtime_ns = ..., .frames = {0, 8, 16, 24}}, embedding);
//   ix.save("videos.index");                      // atomic: a crash leaves the previous file
//   Index back = Index::load("videos.index");     // BadFile naming what is wrong with a damaged file
//
// Paths are the items' identity: adding a path already present replaces its row. Metadata is kept out of the
// JSON header (tensors hold it) so a million items stay far below the format's header limit.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "retrieval/similarity.h"

namespace frost::retrieval {

inline constexpr int kIndexFormat = 1;

struct IndexItem {
  std::string path;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  std::vector<int64_t> frames;  // at most the index's frame count
};

class Index {
 public:
  Index(std::string config_json, std::string video_hash, int64_t dim, int64_t frames);
  static Index load(const std::string& path);
  // Written atomically (loader::write_safetensors). Throws Io on a failed write.
  void save(const std::string& path, bool f16 = false) const;

  // Adds or replaces (same path) an item; `embedding` (dim values) is normalised here. Throws
  // InvalidArgument for a wrong width, too many frames, or a non-finite embedding.
  void add(IndexItem item, std::span<const float> embedding);
  // Removes the items with these paths; returns how many there were.
  size_t remove(const std::vector<std::string>& paths);
  std::optional<size_t> find(const std::string& path) const;

  size_t size() const { return items_.size(); }
  const IndexItem& item(size_t i) const { return items_[i]; }
  const NormalizedRows& rows() const { return rows_; }
  const std::string& config_json() const { return config_json_; }
  const std::string& video_hash() const { return video_hash_; }
  int64_t dim() const { return rows_.dim; }
  int64_t frames() const { return frames_; }

 private:
  std::string config_json_, video_hash_;
  int64_t frames_ = 0;
  std::vector<IndexItem> items_;
  std::unordered_map<std::string, size_t> by_path_;  // path -> row
  NormalizedRows rows_;
  void reindex();
};

// A file's size and modification time (ns), which an index records per item to tell a changed file; for a
// folder of frames, the sum of its regular files' sizes and the newest one's time. Throws BadFile naming
// the path when it cannot be read.
struct ItemStamp {
  int64_t size = 0;
  int64_t mtime_ns = 0;
};
ItemStamp stamp_of(const std::string& path);

// Holds "<index>.lock" (flock, exclusive; beside the file the path resolves to) while alive: a second writer
// of the same index fails at once with InvalidArgument naming the file, instead of both writing. The kernel
// drops the lock when the process dies, so a killed writer leaves no stale lock.
class IndexLock {
 public:
  explicit IndexLock(const std::string& index_path);
  ~IndexLock();
  IndexLock(const IndexLock&) = delete;
  IndexLock& operator=(const IndexLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace frost::retrieval
