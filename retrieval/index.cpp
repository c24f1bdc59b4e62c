#include "retrieval/index.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "loader/safetensors.h"

namespace frost::retrieval {

using nlohmann::json;

namespace {
constexpr const char* kMetadataKey = "frost.index";
}  // namespace

Index::Index(std::string config_json, std::string video_hash, int64_t dim, int64_t frames)
    : config_json_(std::move(config_json)), video_hash_(std::move(video_hash)), frames_(frames) {
  FROST_CHECK(dim > 0 && frames > 0, InvalidArgument,
              "index: embedding width " << dim << " and frames " << frames << " must be positive");
  rows_.dim = dim;
}

void Index::add(IndexItem item, std::span<const float> embedding) {
  FROST_CHECK(int64_t(embedding.size()) == rows_.dim, InvalidArgument,
              "index: " << item.path << ": an embedding of " << embedding.size()
                        << " values, the index's are " << rows_.dim);
  FROST_CHECK(
      int64_t(item.frames.size()) <= frames_, InvalidArgument,
      "index: " << item.path << ": " << item.frames.size() << " frames, the index holds at most " << frames_);
  const NormalizedRows row = normalize_rows(embedding, 1, rows_.dim);  // throws on NaN / Inf
  if (const std::optional<size_t> at = find(item.path)) {
    items_[*at] = std::move(item);
    std::copy(row.data.begin(), row.data.end(), rows_.data.begin() + int64_t(*at) * rows_.dim);
    return;
  }
  by_path_.emplace(item.path, items_.size());
  items_.push_back(std::move(item));
  rows_.data.insert(rows_.data.end(), row.data.begin(), row.data.end());
  ++rows_.rows;
}

size_t Index::remove(const std::vector<std::string>& paths) {
  std::vector<bool> drop(items_.size(), false);
  size_t removed = 0;
  for (const std::string& p : paths)
    if (const std::optional<size_t> at = find(p); at && !drop[*at]) {
      drop[*at] = true;
      ++removed;
    }
  if (removed == 0) return 0;
  size_t kept = 0;
  for (size_t i = 0; i < items_.size(); ++i) {
    if (drop[i]) continue;
    if (kept != i) {
      items_[kept] = std::move(items_[i]);
      std::copy(rows_.data.begin() + int64_t(i) * rows_.dim, rows_.data.begin() + int64_t(i + 1) * rows_.dim,
                rows_.data.begin() + int64_t(kept) * rows_.dim);
    }
    ++kept;
  }
  items_.resize(kept);
  rows_.data.resize(kept * size_t(rows_.dim));
  rows_.rows = int64_t(kept);
  reindex();
  return removed;
}

std::optional<size_t> Index::find(const std::string& path) const {
  auto it = by_path_.find(path);
  if (it == by_path_.end()) return std::nullopt;
  return it->second;
}

void Index::reindex() {
  by_path_.clear();
  for (size_t i = 0; i < items_.size(); ++i) by_path_[items_[i].path] = i;
}

void Index::save(const std::string& path, bool f16) const {
  const int64_t N = int64_t(items_.size()), P = rows_.dim, F = frames_;
  HostTensor emb(f16 ? DType::F16 : DType::F32, {N, P});
  convert(rows_.data.data(), DType::F32, emb.raw(), emb.dtype(), size_t(N * P));
  size_t path_bytes = 0;
  for (const IndexItem& it : items_) path_bytes += it.path.size();
  HostTensor paths(DType::U8, {int64_t(path_bytes)}), ends(DType::I64, {N}), sizes(DType::I64, {N}),
      mtimes(DType::I64, {N}), frames(DType::I64, {N, F});
  size_t at = 0;
  for (int64_t i = 0; i < N; ++i) {
    const IndexItem& it = items_[size_t(i)];
    std::memcpy(paths.data<uint8_t>() + at, it.path.data(), it.path.size());
    at += it.path.size();
    ends.data<int64_t>()[i] = int64_t(at);
    sizes.data<int64_t>()[i] = it.size;
    mtimes.data<int64_t>()[i] = it.mtime_ns;
    for (int64_t f = 0; f < F; ++f)
      frames.data<int64_t>()[i * F + f] = f < int64_t(it.frames.size()) ? it.frames[size_t(f)] : -1;
  }
  const json meta = {
      {"format", kIndexFormat},   {"count", N}, {"dim", P}, {"frames", F}, {"config", config_json_},
      {"video_hash", video_hash_}};
  loader::write_safetensors(path,
                            {{"embeddings", &emb},
                             {"item.path", &paths},
                             {"item.path_end", &ends},
                             {"item.size", &sizes},
                             {"item.mtime_ns", &mtimes},
                             {"item.frames", &frames}},
                            {{kMetadataKey, meta.dump()}});
}

Index Index::load(const std::string& path) {
  const auto file = loader::SafetensorsFile::open(path);
  auto m = file.metadata().find(kMetadataKey);
  FROST_CHECK(
      m != file.metadata().end(), BadFile,
      path << ": not a frost index (no '" << kMetadataKey << "' metadata) — make one with frost index");
  json meta;
  try {
    meta = json::parse(m->second);
  } catch (const json::exception&) {
    FROST_FAIL(BadFile, path << ": its '" << kMetadataKey << "' metadata is not JSON");
  }
  int64_t N = 0, P = 0, F = 0;
  std::string config, hash;
  try {
    FROST_CHECK(meta.at("format").get<int>() == kIndexFormat, BadFile,
                path << ": index format " << meta.at("format") << ", this frost reads " << kIndexFormat
                     << " — re-index with this frost");
    N = meta.at("count").get<int64_t>();
    P = meta.at("dim").get<int64_t>();
    F = meta.at("frames").get<int64_t>();
    config = meta.at("config").get<std::string>();
    hash = meta.at("video_hash").get<std::string>();
  } catch (const json::exception&) {
    FROST_FAIL(BadFile, path << ": its '" << kMetadataKey << "' metadata lacks a field or has a wrong type");
  }
  FROST_CHECK(N >= 0 && P > 0 && F > 0, BadFile,
              path << ": count " << N << ", dim " << P << ", frames " << F);
  auto tensor = [&](const char* name, DType dtype, const Shape& shape) {
    const loader::TensorEntry* e = file.find(name);
    FROST_CHECK(e != nullptr, BadFile, path << ": no tensor '" << name << "'");
    const bool dtype_ok = e->dtype == dtype || (std::string(name) == "embeddings" && e->dtype == DType::F16);
    FROST_CHECK(dtype_ok && (shape.rank() == 0 || e->shape == shape), BadFile,
                path << ": tensor '" << name << "' is " << e->dtype_name << e->shape << ", expected "
                     << dtype_name(dtype) << (shape.rank() ? shape : e->shape));
    return file.read(name, dtype);
  };
  const HostTensor emb = tensor("embeddings", DType::F32, {N, P});
  const HostTensor ends = tensor("item.path_end", DType::I64, {N});
  const HostTensor sizes = tensor("item.size", DType::I64, {N});
  const HostTensor mtimes = tensor("item.mtime_ns", DType::I64, {N});
  const HostTensor frames = tensor("item.frames", DType::I64, {N, F});
  const HostTensor paths = tensor("item.path", DType::U8, {});
  FROST_CHECK(paths.shape().rank() == 1, BadFile, path << ": item.path must be U8 (bytes)");
  Index ix(config, hash, P, F);
  ix.items_.reserve(size_t(N));
  int64_t begin = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t end = ends.data<int64_t>()[i];
    FROST_CHECK(end >= begin && end <= paths.shape()[0], BadFile,
                path << ": item.path_end[" << i << "] = " << end << " is out of order or past the "
                     << paths.shape()[0] << " path bytes");
    IndexItem it{
        std::string(reinterpret_cast<const char*>(paths.data<uint8_t>()) + begin, size_t(end - begin)),
        sizes.data<int64_t>()[i],
        mtimes.data<int64_t>()[i],
        {}};
    for (int64_t f = 0; f < F && frames.data<int64_t>()[i * F + f] >= 0; ++f)
      it.frames.push_back(frames.data<int64_t>()[i * F + f]);
    FROST_CHECK(ix.by_path_.emplace(it.path, ix.items_.size()).second, BadFile,
                path << ": item " << i << " repeats the path of an earlier item");
    ix.items_.push_back(std::move(it));
    begin = end;
  }
  FROST_CHECK(begin == paths.shape()[0], BadFile, path << ": item.path has bytes past the last item's path");
  ix.rows_.data.assign(emb.data<float>(), emb.data<float>() + N * P);
  ix.rows_.rows = N;
  // Rows were stored normalised: anything else (a damaged or edited file) would score wrongly, or overflow.
  for (int64_t i = 0; i < N; ++i) {
    double sq = 0;
    for (int64_t c = 0; c < P; ++c) {
      const float v = ix.rows_.data[size_t(i * P + c)];
      FROST_CHECK(std::isfinite(v), BadFile,
                  path << ": embedding of item " << i << " holds a NaN or infinite value");
      sq += double(v) * double(v);
    }
    FROST_CHECK(std::abs(std::sqrt(sq) - 1.0) <= 1e-2, BadFile,
                path << ": embedding of item " << i << " has norm " << std::sqrt(sq)
                     << "; an index stores unit rows — re-index");
  }
  return ix;
}

IndexLock::IndexLock(const std::string& index_path) {
  // The file a write lands on (outputs are written through symlinks): two names of one index share a lock.
  std::error_code ec;
  const std::filesystem::path target = std::filesystem::weakly_canonical(index_path, ec);
  const std::string lock = (ec ? index_path : target.string()) + ".lock";
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  FROST_CHECK(fd_ >= 0, Io, lock << ": cannot create the index's lock file: " << std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    FROST_CHECK(err != EWOULDBLOCK, InvalidArgument,
                index_path << " is being written by another frost process (it holds " << lock
                           << ") — wait for it to finish");
    FROST_FAIL(Io, lock << ": cannot lock: " << std::strerror(err));
  }
}

IndexLock::~IndexLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock; the file stays (removing it would race a new writer)
}

namespace {
int64_t mtime_ns(const struct stat& st) {
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + int64_t(st.st_mtim.tv_nsec);
}
}  // namespace

ItemStamp stamp_of(const std::string& path) {
  struct stat st {};
  FROST_CHECK(::stat(path.c_str(), &st) == 0, BadFile, path << ": " << std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return {int64_t(st.st_size), mtime_ns(st)};
  ItemStamp stamp{0, mtime_ns(st)};
  DIR* dir = ::opendir(path.c_str());
  FROST_CHECK(dir != nullptr, BadFile, path << ": " << std::strerror(errno));
  while (const dirent* e = ::readdir(dir)) {
    struct stat f {};
    const std::string child = path + "/" + e->d_name;
    if (::stat(child.c_str(), &f) != 0 || !S_ISREG(f.st_mode)) continue;
    stamp.size += int64_t(f.st_size);
    stamp.mtime_ns = std::max(stamp.mtime_ns, mtime_ns(f));
  }
  ::closedir(dir);
  return stamp;
}

}  // namespace frost::retrieval
