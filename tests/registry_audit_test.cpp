// Registry audit: every op kind in engine/op_list.h has a registry row, a reference kernel, rows in the op
// test table, and — when gradients flow through it (Grad::Rule) — a backward rule and a gradient-checked row.
// A new op cannot land half-done.
#include <gtest/gtest.h>

#include <set>

#include "engine/kernel.h"
#include "engine/op_registry.h"
#include "op_cases.h"
#include "ops/api.h"

namespace frost::test {
namespace {

TEST(RegistryAudit, EveryOpIsComplete) {
  ops::register_all();
  std::set<OpKind> tested, gradchecked;
  for (const OpCase& c : op_cases()) {
    tested.insert(c.kind);
    if (c.gradcheck) gradchecked.insert(c.kind);
  }
  for (int i = 0; i < kNumOpKinds; ++i) {
    const OpKind kind = OpKind(i);
    SCOPED_TRACE(op_name(kind));
    ASSERT_TRUE(op_registry().has(kind)) << "no registry row";
    const OpRow& row = op_registry().row(kind);
    EXPECT_TRUE(tested.count(kind)) << "no rows in tests/op_cases.cpp";
    if (row.grad == Grad::Rule) {
      EXPECT_NE(row.backward, nullptr) << "differentiable but no backward rule";
      EXPECT_TRUE(gradchecked.count(kind)) << "differentiable but no gradient-checked row";
    }
    // Views share bytes and run no kernel; every other op needs a reference kernel, the oracle.
    if (row.view_of_input < 0) {
      EXPECT_FALSE(kernel_registry().list(kind, BackendKind::Reference).empty()) << "no reference kernel";
    }
  }
}

TEST(RegistryAudit, RowsAreConsistent) {
  ops::register_all();
  for (int i = 0; i < kNumOpKinds; ++i) {
    const OpRow& row = op_registry().row(OpKind(i));
    SCOPED_TRACE(row.name);
    EXPECT_STREQ(row.name, op_name(OpKind(i)));
    if (row.num_inputs != kVariadic) {
      EXPECT_LT(row.inplace_input, row.num_inputs) << "in-place input out of range";
      EXPECT_LT(row.view_of_input, row.num_inputs) << "view input out of range";
    }
    EXPECT_FALSE(row.inplace_input >= 0 && row.view_of_input >= 0) << "an op is a view or in-place, not both";
    EXPECT_TRUE(row.num_outputs > 0 || row.num_outputs == kVariadic || row.side_effect)
        << "an op without outputs must have a side effect";
  }
}

}  // namespace
}  // namespace frost::test
