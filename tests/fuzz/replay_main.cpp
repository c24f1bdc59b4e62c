// Replays a fuzz target over files and folders given on the command line (the corpus), and over the saved
// crash inputs of that target (`--crashes DIR TARGET`: the files DIR/TARGET-*, as `make fuzz` names them),
// without libFuzzer: how CI runs the fuzz targets, under the sanitizer build too.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  size_t count = 0, crashes = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<std::filesystem::path> files;
    if (std::string(argv[i]) == "--crashes" && i + 2 < argc) {
      const std::string dir = argv[i + 1], prefix = std::string(argv[i + 2]) + "-";
      i += 2;
      std::error_code ec;
      if (std::filesystem::is_directory(dir, ec))
        for (const auto& e : std::filesystem::directory_iterator(dir))
          if (e.is_regular_file() && e.path().filename().string().rfind(prefix, 0) == 0)
            files.push_back(e.path());
      crashes += files.size();
    } else if (std::filesystem::is_directory(argv[i])) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(argv[i]))
        if (e.is_regular_file()) files.push_back(e.path());
    } else {
      files.emplace_back(argv[i]);
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++count;
    }
  }
  std::printf("replayed %zu inputs (%zu saved crash inputs among them)\n", count, crashes);
  return count > 0 ? 0 : 1;  // an empty corpus is a broken setup, not a pass
}
