// frost ops: prints the op registry — one row per op kind with its arity, gradient rule, in-place/view
// rule and the dtypes each backend has kernels for.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/kernel.h"
#include "engine/op_registry.h"
#include "ops/api.h"

namespace frost::cli {
namespace {

std::string dtypes_of(OpKind kind, BackendKind backend) {
  std::string out;
  std::vector<bool> seen(kNumDTypes, false);
  for (const auto& entry : kernel_registry().list(kind, backend)) {
    if (seen[size_t(entry.first)]) continue;
    seen[size_t(entry.first)] = true;
    out += (out.empty() ? "" : " ") + std::string(dtype_name(entry.first));
  }
  return out.empty() ? "-" : out;
}

std::string count(int n) {
  return n == kVariadic ? "n" : std::to_string(n);
}

void run_ops() {
  ops::register_all();
  size_t width = 3;
  for (int i = 0; i < kNumOpKinds; ++i)
    width = std::max(width, std::string(op_registry().row(OpKind(i)).name).size() + 2);
  std::cout << std::left << std::setw(int(width)) << "op" << std::setw(8) << "in/out" << std::setw(12)
            << "gradient" << std::setw(10) << "memory" << std::setw(34) << "reference kernels"
            << "cpu kernels (oneDNN, own)\n";
  for (int i = 0; i < kNumOpKinds; ++i) {
    const OpRow& row = op_registry().row(OpKind(i));
    std::string grad = grad_name(row.grad);
    std::string memory = row.view_of_input >= 0 ? "view" : row.inplace_input >= 0 ? "in-place" : "-";
    std::cout << std::setw(int(width)) << row.name << std::setw(8)
              << (count(row.num_inputs) + "/" + count(row.num_outputs)) << std::setw(12) << grad
              << std::setw(10) << memory << std::setw(34) << dtypes_of(OpKind(i), BackendKind::Reference)
              << dtypes_of(OpKind(i), BackendKind::Cpu) << "\n";
  }
}

}  // namespace

void add_ops_command(CLI::App& app) {
  CLI::App* cmd =
      app.add_subcommand("ops", "List the registered ops: arity, gradient rule, kernels per backend");
  set_command(cmd, run_ops);
}

}  // namespace frost::cli
