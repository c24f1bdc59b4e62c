// frost convert IN OUT.safetensors: the weights of a PyTorch checkpoint (the released Frozen in Time
// `.pth.tar`, zip or legacy; read without running anything, loader/pytorch_checkpoint.h) as a safetensors
// file — its state dict's tensors under their own names and dtypes, which every --weights also takes
// directly. The checkpoint's other contents (optimizer state, the reference's config object) are said and
// left out. A safetensors IN is copied through the same path (names, dtypes, metadata kept).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/error.h"
#include "loader/files.h"
#include "loader/safetensors.h"
#include "loader/tensor_file.h"

namespace frost::cli {
namespace {

struct ConvertOptions {
  std::string in, out;
};

void run_convert(const ConvertOptions& opt) {
  loader::check_output_path(opt.out, {opt.in}, "the output");
  const loader::TensorFile f = loader::TensorFile::open(opt.in);
  for (const std::string& n : f.notes()) note(display(opt.in) + " also holds " + display(n) + ": left out");
  std::vector<HostTensor> tensors;
  std::vector<std::string> names, skipped;
  tensors.reserve(f.tensors().size());
  for (const loader::TensorEntry& e : f.tensors()) {
    if (!e.dtype) {  // I16, I8, BOOL, ...: frost holds no such tensors
      skipped.push_back(e.name + " (" + e.dtype_name + ")");
      continue;
    }
    tensors.push_back(f.read(e.name));
    names.push_back(e.name);
  }
  for (const std::string& s : skipped)
    warn(display(opt.in) + ": " + display(s) + " has a dtype frost does not hold: left out");
  FROST_CHECK(!tensors.empty(), BadFile, opt.in << " holds no tensors frost can write");
  std::vector<std::pair<std::string, const HostTensor*>> list;
  for (size_t i = 0; i < tensors.size(); ++i) list.emplace_back(names[i], &tensors[i]);
  std::map<std::string, std::string> metadata = f.metadata();
  if (f.is_pytorch()) metadata["frost.converted_from"] = f.format();
  loader::write_safetensors(opt.out, list, metadata);
  std::cout << "wrote " << display(opt.out) << ": " << tensors.size() << " tensors from " << display(opt.in)
            << " (" << f.format() << ")\n";
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto opt = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Write a PyTorch checkpoint's weights (.pth.tar, .pth, .pt) as a .safetensors file");
  cmd->add_option("checkpoint", opt->in, "a PyTorch checkpoint (zip or legacy; nothing in it is run)")
      ->required();
  cmd->add_option("out", opt->out, "the .safetensors file to write")->required();
  set_command(cmd, [opt] { run_convert(*opt); });
}

}  // namespace frost::cli
