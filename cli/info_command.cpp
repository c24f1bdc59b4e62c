// frost info FILE [--json]: a safetensors file or a PyTorch checkpoint (loader/tensor_file.h) — its format,
// tensor count, total bytes, each tensor with dtype and shape, and the metadata (safetensors) or what else
// the checkpoint holds (PyTorch); or, for a bad file, one error line and exit code 1 (main.cpp turns the
// frost::Error into it).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "loader/files.h"
#include "loader/safetensors.h"
#include "loader/tensor_file.h"

namespace frost::cli {
namespace {

struct InfoOptions {
  std::string path;
  bool json = false;
};

void run_info(const InfoOptions& opt) {
  const loader::TensorFile f = loader::TensorFile::open(opt.path);
  // A tensor's bytes: its elements × element size (a PyTorch view may share a larger storage).
  auto tensor_bytes = [](const loader::TensorEntry& t) {
    const size_t element =
        t.dtype ? size_of(*t.dtype) : t.bytes.size() / size_t(std::max<int64_t>(1, t.shape.numel()));
    return size_t(t.shape.numel()) * element;
  };
  size_t data_bytes = 0;
  for (const loader::TensorEntry& t : f.tensors()) data_bytes += tensor_bytes(t);
  if (opt.json) {
    nlohmann::ordered_json out;
    out["file"] = loader::escape_invalid_utf8(opt.path);
    out["format"] = f.format();
    out["file_bytes"] = f.file_size();
    out["tensor_count"] = f.tensors().size();
    out["tensor_bytes"] = data_bytes;
    out["metadata"] = f.metadata();
    if (f.is_pytorch()) out["notes"] = f.notes();
    out["tensors"] = nlohmann::ordered_json::array();
    for (const loader::TensorEntry& t : f.tensors())
      out["tensors"].push_back({{"name", loader::escape_invalid_utf8(t.name)},
                                {"dtype", t.dtype_name},
                                {"shape", t.shape.to_vector()},
                                {"bytes", tensor_bytes(t)}});
    std::cout << out.dump(2) << "\n";
    return;
  }
  // Names and metadata come from the file: escaped, so a crafted file cannot print fake lines.
  std::cout << display(opt.path) << ": " << f.format() << ", " << f.tensors().size()
            << (f.is_pytorch() ? " tensors in its state dict, " : " tensors, ") << data_bytes
            << " bytes of data (" << f.file_size() << " bytes in all)\n";
  for (const std::string& n : f.notes()) std::cout << "  holds " << display(n) << "\n";
  // A long value (a recorded vocabulary: thousands of lines) is shortened to its start; --json has it all.
  for (const auto& [key, value] : f.metadata()) {
    std::string shown = display(value);
    size_t cut = 300;  // on a character boundary, not inside a UTF-8 sequence
    while (cut > 0 && cut < shown.size() && (static_cast<unsigned char>(shown[cut]) & 0xC0) == 0x80) --cut;
    if (shown.size() > 400)
      shown = shown.substr(0, cut) + "… (" + std::to_string(value.size()) + " bytes; --json shows it all)";
    std::cout << "  metadata " << display(key) << " = " << shown << "\n";
  }
  for (const loader::TensorEntry& t : f.tensors())
    std::cout << "  " << display(t.name) << "  " << display(t.dtype_name) << to_string(t.shape) << "\n";
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto opt = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info",
                                     "Show what a .safetensors file or a PyTorch checkpoint (.pth, .pth.tar, "
                                     ".pt) holds (or why it is invalid)");
  cmd->add_option("file", opt->path,
                  "a .safetensors file or a PyTorch checkpoint (read without running anything)")
      ->required();
  cmd->add_flag("--json", opt->json, "print one JSON object");
  set_command(cmd, [opt] { run_info(*opt); });
}

}  // namespace frost::cli
