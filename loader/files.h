// Files as a command-line tool must treat them: inputs opened without ever blocking (a FIFO or a device
// named where a file is mapped or seeked is refused from its stat, before any open that could hang),
// outputs checked before any work (never an input, never a device, FIFO or folder) and replaced
// atomically (a temporary file beside the target, fsynced and renamed; the mode of the file replaced is
// kept, a new file honours the umask; a symlink is written through: its target is replaced, the link stays).
//
//   const std::string cfg = read_regular_file("fit.json", "config", 1 << 20);  // BadFile for a FIFO
//   check_output_path("out.safetensors", {"w.safetensors", "v.txt"});          // before the work
//   AtomicFile f("out.safetensors");  f.write(bytes, n);  f.commit();          // or nothing changes
//
// Errors: BadFile for an input that is missing, unreadable or not a regular file; InvalidArgument for an
// output that cannot be (an input, a folder, a device, "-", a missing folder); Io for an operating-system
// failure while writing (disk full, permissions). Each names the path.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace frost::loader {

// What a path names, from stat() (links followed; stat never blocks, whatever the file is).
enum class FileKind { Missing, Regular, Directory, Fifo, CharDevice, BlockDevice, Socket, Other };
FileKind file_kind(const std::string& path);
const char* file_kind_name(FileKind kind);  // "a FIFO", "a folder", ...
// What `path` is, for a message: "a FIFO (named pipe)", "missing", "unreachable (File name too long)".
std::string describe_path(const std::string& path);

// Opens `path` read-only as a regular file and returns its descriptor (O_CLOEXEC; the caller closes it).
// Refuses anything else before opening it, and opens with O_NONBLOCK so a file swapped for a FIFO between
// the check and the open cannot hang either. `what` names the file's role in messages ("weights").
int open_regular_file(const std::string& path, const char* what);
// Up to `n` first bytes of the regular file `path` (fewer when it is shorter), opened as open_regular_file
// opens it — never blocks; errors as there. For telling formats apart by their signatures.
std::vector<std::byte> read_file_head(const std::string& path, size_t n, const char* what);

// A whole regular file, refused past `max_bytes` (configs, vocabularies: text a user names).
std::string read_regular_file(const std::string& path, const char* what, size_t max_bytes);

// A text source read as a stream: a regular file, a FIFO or pipe (`<(cmd)`), or "-" for standard input.
// Devices, sockets and folders are refused. Stops with BadFile past `max_bytes`.
std::string read_text_stream(const std::string& path, const char* what, size_t max_bytes);

// Byte-exact UTF-8 validity (no overlongs, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(const std::string& s);
// `s` with every byte of an invalid UTF-8 sequence written as \xNN and, for the terminal, control
// characters (C0, DEL, C1) as \n, \t, \r, \xNN or \uNNNN: text from a file or a user can then never
// print fake lines or move the cursor. Everything else, backslashes included, prints as itself.
std::string escape_for_terminal(const std::string& s);
// `s` with only its invalid UTF-8 bytes written as \xNN: a string JSON can hold (JSON escapes control
// characters itself).
std::string escape_invalid_utf8(const std::string& s);

// A JSON parser's message (nlohmann's exception what()) without its internal "[json.exception.NAME.ID] "
// prefix: what a user reads is where and what, not the library's class name.
std::string json_error_text(const std::string& what);

// Checks, before any work, that `out` can be written as a regular file: not "-", not an existing folder,
// FIFO, device or socket (a symlink to one counts as one), its folder exists and is writable, its name fits
// the file system, and it is not the same file (device and inode, after links) as any of `inputs`. An
// input that is a folder also protects the files directly in it. Throws InvalidArgument naming `role`
// (e.g. "--out").
void check_output_path(const std::string& out, const std::vector<std::string>& inputs,
                       const char* role = "--out");

// A file written under a temporary name beside its target and renamed onto it by commit(): readers see
// the old file or the new one, never a part. If `path` is a symlink the link's target is replaced. The
// file replaced keeps its mode; a new file gets 0666 less the umask. Destroyed without commit(), the
// temporary file is removed and the target is untouched.
// Unlinks the temporary files of every AtomicFile not yet committed or destroyed. Async-signal-safe: for a
// handler of SIGINT/SIGTERM, so an interrupted command leaves nothing behind.
void remove_temporary_files();

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(const void* data, size_t size);
  void commit();  // fsync, rename, fsync of the folder

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  std::string path_;    // as given (messages)
  std::string target_;  // the file replaced: `path_`, or the end of its symlink chain
  std::string tmp_;
  int fd_ = -1;
  int slot_ = -1;  // in the registry remove_temporary_files() walks
};

}  // namespace frost::loader
