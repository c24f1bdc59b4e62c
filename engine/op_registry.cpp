#include "engine/op_registry.h"

#include "engine/error.h"

namespace frost {

void OpRegistry::set(const OpRow& row) {
  size_t i = size_t(row.kind);
  FROST_CHECK(i < rows_.size(), Internal, "op row with kind " << i << " outside the op list");
  FROST_CHECK(rows_[i].name == nullptr, Internal, "op '" << op_name(row.kind) << "' registered twice");
  FROST_CHECK(
      row.name != nullptr && std::string_view(row.name) == op_name(row.kind), Internal,
      "op row for '" << op_name(row.kind) << "' carries the name '" << (row.name ? row.name : "") << "'");
  FROST_CHECK(row.infer != nullptr && row.cost != nullptr, Internal,
              "op '" << row.name << "' row lacks its inference or cost function");
  FROST_CHECK((row.grad == Grad::Rule) == (row.backward != nullptr), Internal,
              "op '" << row.name << "': a backward rule exactly when grad is Grad::Rule");
  rows_[i] = row;
}

const OpRow& OpRegistry::row(OpKind kind) const {
  size_t i = size_t(kind);
  FROST_CHECK(i < rows_.size() && rows_[i].name != nullptr, Internal,
              "op '" << op_name(kind) << "' has no registry row: call frost::ops::register_all() first");
  return rows_[i];
}

const char* grad_name(Grad g) {
  switch (g) {
    case Grad::Rule:
      return "backward";
    case Grad::None:
      return "none";
    case Grad::Unsupported:
      return "unsupported";
  }
  return "?";
}

OpRow OpRegistry::replace_for_testing(const OpRow& row) {
  OpRow old = this->row(row.kind);
  rows_[size_t(row.kind)] = row;
  return old;
}

OpRegistry& op_registry() {
  static OpRegistry registry;
  return registry;
}

}  // namespace frost
