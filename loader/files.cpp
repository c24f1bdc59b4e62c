#include "loader/files.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "engine/error.h"

namespace frost::loader {
namespace {

[[noreturn]] void bad(const std::string& path, const char* what, const std::string& why) {
  throw_error(ErrorCategory::BadFile, std::string(what) + " " + path + ": " + why);
}

FileKind kind_of(mode_t mode) {
  if (S_ISREG(mode)) return FileKind::Regular;
  if (S_ISDIR(mode)) return FileKind::Directory;
  if (S_ISFIFO(mode)) return FileKind::Fifo;
  if (S_ISCHR(mode)) return FileKind::CharDevice;
  if (S_ISBLK(mode)) return FileKind::BlockDevice;
  if (S_ISSOCK(mode)) return FileKind::Socket;
  return FileKind::Other;
}

// stat() following links; nullopt with errno set when it fails.
std::optional<struct stat> stat_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return st;
}

std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The end of `path`'s symlink chain (path itself when it is no link); err is set when a link cannot be read
// or the chain is too long.
std::string symlink_target(const std::string& path, int& err) {
  std::string target = path;
  err = 0;
  for (int hops = 0;; ++hops) {
    struct stat link {};
    if (::lstat(target.c_str(), &link) != 0 || !S_ISLNK(link.st_mode)) return target;
    if (hops == 40) {
      err = ELOOP;
      return target;
    }
    std::vector<char> buf(size_t(link.st_size > 0 ? link.st_size : PATH_MAX) + 1);
    const ssize_t n = ::readlink(target.c_str(), buf.data(), buf.size() - 1);
    if (n <= 0) {
      err = n < 0 ? errno : EINVAL;
      return target;
    }
    const std::string dest(buf.data(), size_t(n));
    target = dest.front() == '/' ? dest : folder_of(target) + "/" + dest;
  }
}

// The length of the UTF-8 sequence starting at s[i], or 0 when the bytes there are not one.
size_t utf8_sequence(const std::string& s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;  // overlong, past Unicode, or a surrogate
  return n;
}

void append_hex(std::string& out, const char* prefix, unsigned value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%s%0*X", prefix, digits, value);
  out += buf;
}

std::string escape(const std::string& s, bool controls) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence(s, i);
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (n == 0) {
      append_hex(out, "\\x", c, 2);
      ++i;
      continue;
    }
    if (controls && n == 1 && (c < 0x20 || c == 0x7f)) {
      if (c == '\n')
        out += "\\n";
      else if (c == '\t')
        out += "\\t";
      else if (c == '\r')
        out += "\\r";
      else
        append_hex(out, "\\x", c, 2);
    } else if (controls && n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) {
      append_hex(out, "\\u", static_cast<unsigned char>(s[i + 1]), 4);  // C1 controls U+0080..U+009F
    } else {
      out.append(s, i, n);
    }
    i += n;
  }
  return out;
}

}  // namespace

FileKind file_kind(const std::string& path) {
  const auto st = stat_of(path);
  return st ? kind_of(st->st_mode) : FileKind::Missing;
}

const char* file_kind_name(FileKind kind) {
  switch (kind) {
    case FileKind::Missing:
      return "missing";
    case FileKind::Regular:
      return "a regular file";
    case FileKind::Directory:
      return "a folder";
    case FileKind::Fifo:
      return "a FIFO (named pipe)";
    case FileKind::CharDevice:
      return "a character device";
    case FileKind::BlockDevice:
      return "a block device";
    case FileKind::Socket:
      return "a socket";
    case FileKind::Other:
      break;
  }
  return "not a regular file";
}

std::string describe_path(const std::string& path) {
  const auto st = stat_of(path);
  if (st) return file_kind_name(kind_of(st->st_mode));
  if (errno == ENOENT) return "missing";
  return std::string("unreachable (") + std::strerror(errno) + ")";
}

std::vector<std::byte> read_file_head(const std::string& path, size_t n, const char* what) {
  const int fd = open_regular_file(path, what);
  std::vector<std::byte> head(n);
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, head.data() + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += size_t(r);
  }
  ::close(fd);
  head.resize(got);
  return head;
}

int open_regular_file(const std::string& path, const char* what) {
  const auto st = stat_of(path);
  if (!st) bad(path, what, std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(st->st_mode))
    bad(path, what,
        std::string("is ") + file_kind_name(kind_of(st->st_mode)) +
            ", not a regular file — name a regular file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) bad(path, what, std::string("cannot open: ") + std::strerror(errno));
  struct stat now {};
  if (fstat(fd, &now) != 0 || !S_ISREG(now.st_mode)) {  // swapped since the check
    ::close(fd);
    bad(path, what, "is not a regular file");
  }
  // Reads of a regular file never block; clear the flag so later reads behave as usual anyway.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

namespace {

// Reads all of `fd` (closing it), refusing past max_bytes.
std::string read_all(int fd, const std::string& path, const char* what, size_t max_bytes) {
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      bad(path, what, std::string("read failed: ") + std::strerror(err));
    }
    if (n == 0) break;
    if (out.size() + size_t(n) > max_bytes) {
      ::close(fd);
      bad(path, what, "is larger than the " + std::to_string(max_bytes) + " bytes allowed for it");
    }
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

std::string read_regular_file(const std::string& path, const char* what, size_t max_bytes) {
  return read_all(open_regular_file(path, what), path, what, max_bytes);
}

std::string read_text_stream(const std::string& path, const char* what, size_t max_bytes) {
  if (path == "-") return read_all(::dup(STDIN_FILENO), "(standard input)", what, max_bytes);
  const auto st = stat_of(path);
  if (!st) bad(path, what, std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(st->st_mode) && !S_ISFIFO(st->st_mode))
    bad(path, what,
        std::string("is ") + file_kind_name(kind_of(st->st_mode)) +
            ", not a file or a pipe — name a file, a pipe or -");
  if (S_ISREG(st->st_mode)) return read_all(open_regular_file(path, what), path, what, max_bytes);
  // A pipe is meant to be read as a stream: opening it waits for its writer, as `cat` would.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) bad(path, what, std::string("cannot open: ") + std::strerror(errno));
  struct stat now {};
  if (fstat(fd, &now) != 0 || !(S_ISFIFO(now.st_mode) || S_ISREG(now.st_mode))) {
    ::close(fd);
    bad(path, what, "is not a file or a pipe — name a file, a pipe or -");
  }
  return read_all(fd, path, what, max_bytes);
}

bool is_valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string escape_for_terminal(const std::string& s) {
  return escape(s, true);
}

std::string escape_invalid_utf8(const std::string& s) {
  return escape(s, false);
}

std::string json_error_text(const std::string& what) {
  const size_t close = what.find("] ");
  return what.rfind("[json.exception.", 0) == 0 && close != std::string::npos ? what.substr(close + 2) : what;
}

void check_output_path(const std::string& out, const std::vector<std::string>& inputs, const char* role) {
  auto refuse = [&](const std::string& why) {
    throw_error(ErrorCategory::InvalidArgument,
                std::string(role) + " " + escape_for_terminal(out) + ": " + why);
  };
  if (out.empty()) refuse("is empty — name a file to write");
  if (out == "-") refuse("this command cannot write to standard output — name a file");
  if (out.back() == '/') refuse("names a folder — name a file to write");
  if (base_of(out) == "." || base_of(out) == "..") refuse("names a folder — name a file to write");
  // A symlink is written through (AtomicFile): the folder and name checked are its target's.
  int link_err = 0;
  const std::string target = symlink_target(out, link_err);
  if (link_err != 0) refuse(std::string("cannot follow the symlink (") + std::strerror(link_err) + ")");
  const std::string base = base_of(target);
  const std::string folder = folder_of(target);
  const auto folder_st = stat_of(folder);
  if (!folder_st) {
    const int err = errno;
    refuse("its folder " + escape_for_terminal(folder) + " cannot be used (" + std::strerror(err) + ") — " +
           (err == ENOENT ? "create the folder first" : "name another folder"));
  }
  if (!S_ISDIR(folder_st->st_mode)) refuse("its folder " + escape_for_terminal(folder) + " is not a folder");
  long name_max = ::pathconf(folder.c_str(), _PC_NAME_MAX);
  if (name_max <= 0) name_max = NAME_MAX;
  if (base.size() > size_t(name_max))
    refuse("the file name is " + std::to_string(base.size()) + " bytes, longer than the " +
           std::to_string(name_max) + " its file system allows — name a shorter file");
  if (::access(folder.c_str(), W_OK | X_OK) != 0)
    refuse("cannot write in its folder " + escape_for_terminal(folder) + " (" + std::strerror(errno) +
           ") — write it elsewhere");
  for (const std::string& in : inputs) {  // a new file inside an input folder could become one of its frames
    const auto in_st = stat_of(in);
    if (in_st && S_ISDIR(in_st->st_mode) && folder_st->st_dev == in_st->st_dev &&
        folder_st->st_ino == in_st->st_ino)
      refuse("is inside the input folder " + escape_for_terminal(in) + " — write it elsewhere");
  }
  const auto st = stat_of(out);
  if (!st) {
    if (errno == ENOENT) {
      struct stat link {};
      if (::lstat(out.c_str(), &link) == 0)
        refuse("is a symlink to a missing file — remove it or name another");
      return;  // a new file: nothing to collide with
    }
    refuse(std::string("cannot be checked: ") + std::strerror(errno));
  }
  if (!S_ISREG(st->st_mode))
    refuse(std::string("exists and is ") + file_kind_name(kind_of(st->st_mode)) +
           " — frost only replaces regular files: name a file");
  for (const std::string& in : inputs) {
    const auto in_st = stat_of(in);
    if (!in_st) continue;  // the input's own check reports it
    if (in_st->st_dev == st->st_dev && in_st->st_ino == st->st_ino)
      refuse("is the input " + escape_for_terminal(in) + " (the same file) — name a new file for the output");
  }
}

// ---- AtomicFile ------------------------------------------------------------------------------------------

namespace {

// Temporary files in flight, in fixed storage a signal handler can walk without allocating or locking.
constexpr int kTempSlots = 32;
struct TempSlot {
  std::atomic<bool> used{false};   // claimed by an AtomicFile
  std::atomic<bool> ready{false};  // `path` is written: the handler may unlink it
  char path[PATH_MAX] = {};
};
TempSlot temp_slots[kTempSlots];

int register_temporary(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  for (int i = 0; i < kTempSlots; ++i) {
    bool expected = false;
    if (!temp_slots[i].used.compare_exchange_strong(expected, true)) continue;
    std::memcpy(temp_slots[i].path, path.c_str(), path.size() + 1);
    temp_slots[i].ready.store(true);
    return i;
  }
  return -1;  // more files in flight than slots: that one is not cleaned up on a signal
}

void unregister_temporary(int slot) {
  if (slot < 0) return;
  temp_slots[slot].ready.store(false);
  temp_slots[slot].used.store(false);
}

}  // namespace

void remove_temporary_files() {
  for (TempSlot& slot : temp_slots)
    if (slot.ready.load()) ::unlink(slot.path);
}

AtomicFile::AtomicFile(const std::string& path) : path_(path), target_(path) {
  // Write through symlinks: the file the link points to is replaced and the link stays a link.
  int err = 0;
  target_ = symlink_target(path, err);
  if (err != 0) fail("cannot follow the symlink", err);
  // A short temporary name, so any name that fits the file system works as a target. Created 0666 so the
  // kernel applies the umask (no process-wide umask() call: other threads may be creating files).
  const std::string folder = folder_of(target_);
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; fd_ < 0; ++attempt) {
    char suffix[48];
    std::snprintf(suffix, sizeof suffix, "/.frost-%d-%u.tmp", int(::getpid()), counter.fetch_add(1));
    tmp_ = folder + suffix;
    slot_ = register_temporary(tmp_);  // before it exists: a signal right after the open still removes it
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    const int open_err = errno;
    if (fd_ < 0) {
      unregister_temporary(slot_);
      slot_ = -1;
    }
    if (fd_ < 0 && (open_err != EEXIST || attempt == 100)) {
      tmp_.clear();
      fail("cannot create a temporary file in " + escape_for_terminal(folder), open_err);
    }
  }
  struct stat existing {};
  if (::stat(target_.c_str(), &existing) == 0 && ::fchmod(fd_, existing.st_mode & 07777) != 0)
    fail("cannot keep the mode of the file replaced", errno);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  unregister_temporary(slot_);
}

void AtomicFile::fail(const std::string& what, int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
  unregister_temporary(slot_);
  slot_ = -1;
  throw_error(ErrorCategory::Io,
              "cannot write " + escape_for_terminal(path_) + ": " + what + ": " + std::strerror(err));
}

void AtomicFile::write(const void* data, size_t size) {
  FROST_CHECK(fd_ >= 0, Internal, "AtomicFile::write after commit or failure");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t w = ::write(fd_, p, size);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("write failed", w < 0 ? errno : ENOSPC);
    p += w;
    size -= size_t(w);
  }
}

void AtomicFile::commit() {
  FROST_CHECK(fd_ >= 0, Internal, "AtomicFile::commit twice or after a failure");
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close failed", errno);
  if (std::rename(tmp_.c_str(), target_.c_str()) != 0)
    fail("cannot rename the temporary file onto it", errno);
  tmp_.clear();
  unregister_temporary(slot_);
  slot_ = -1;
  // Make the rename itself durable.
  const int dfd = ::open(folder_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace frost::loader
