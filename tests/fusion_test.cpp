// The fusion passes on small graphs: what matches, what must not (an intermediate used elsewhere, another
// axis), idempotence, and the fused op computing what the sequence did.
#include <gtest/gtest.h>

#include <cstdlib>

#include "engine/compiled_graph.h"
#include "engine/passes/passes.h"
#include "model/nn.h"
#include "ops/api.h"
#include "test_util.h"

namespace frost {
namespace {

struct LnGraph {
  Graph g;
  Tensor x, w, b;
};

void make_inputs(LnGraph& l) {
  l.x = l.g.input("x", DType::F32, {3, 5, 8});
  l.w = l.g.input("w", DType::F32, {8});
  l.b = l.g.input("b", DType::F32, {8});
}

std::map<std::string, HostTensor> run(const Graph& g, bool fuse) {
  CompileOptions o{.backend = "cpu"};
  o.fuse = fuse;
  auto cg = compile(g, o);
  cg->set_input("x", test::uniform(DType::F32, {3, 5, 8}, 1, -3, 3));
  cg->set_input("w", test::uniform(DType::F32, {8}, 2, 0.5, 1.5));
  cg->set_input("b", test::uniform(DType::F32, {8}, 3));
  cg->run();
  std::map<std::string, HostTensor> out;
  for (const GraphOutput& go : g.outputs()) out.emplace(go.name, cg->output_copy(go.name));
  return out;
}

TEST(Fusion, LayerNormSequenceBecomesOneOp) {
  LnGraph l;
  make_inputs(l);
  Tensor y = nn::layer_norm(l.x, l.w, l.b, 1e-5);
  l.g.output("y", relu(y));
  Graph fused = l.g;
  EXPECT_EQ(fuse(fused).layer_norm, 1);
  EXPECT_EQ(count_fused_ops(fused).at("layer_norm"), 1);
  EXPECT_EQ(fuse(fused).layer_norm, 0);  // idempotent
  // The fused node carries eps and feeds the same consumers.
  const Node& ln = fused.node(fused.value(y.id).producer);
  EXPECT_EQ(ln.kind, OpKind::LayerNorm);
  EXPECT_EQ(ln.attrs.scalar, 1e-5);
  EXPECT_EQ(ln.inputs, (std::vector<ValueId>{l.x.id, l.w.id, l.b.id}));
  EXPECT_TRUE(test::close(run(l.g, true).at("y"), run(l.g, false).at("y"), 1e-5, 1e-5));
  // compile() fuses by default; CompileOptions::fuse and FROST_NO_FUSE=1 keep the sequence.
  EXPECT_EQ(count_fused_ops(compile(l.g, {.backend = "cpu"})->graph()).count("layer_norm"), 1u);
  CompileOptions off{.backend = "cpu"};
  off.fuse = false;
  EXPECT_TRUE(count_fused_ops(compile(l.g, off)->graph()).empty());
  ::setenv("FROST_NO_FUSE", "1", 1);
  const bool env_off = count_fused_ops(compile(l.g, {.backend = "cpu"})->graph()).empty();
  ::unsetenv("FROST_NO_FUSE");
  EXPECT_TRUE(env_off);
}

TEST(Fusion, LayerNormDoesNotMatchWhenAnIntermediateIsUsedElsewhere) {
  LnGraph l;
  make_inputs(l);
  const int64_t last = 2;
  Tensor mu = mean(l.x, {last}, true);
  Tensor d = l.x - mu;
  Tensor var = mean(d * d, {last}, true);
  Tensor rstd = rsqrt(var + fill(l.g, {}, DType::F32, 1e-5));
  l.g.output("y", d * rstd * l.w + l.b);
  l.g.output("centered", d);  // the centred values are needed outside: fusing would lose them
  Graph g = l.g;
  EXPECT_EQ(fuse(g).layer_norm, 0);
}

TEST(Fusion, LayerNormDoesNotMatchOtherAxes) {
  LnGraph l;
  make_inputs(l);
  Tensor mu = mean(l.x, {1}, true);  // over the middle axis: not a LayerNorm over the last dim
  Tensor d = l.x - mu;
  Tensor var = mean(d * d, {1}, true);
  Tensor rstd = rsqrt(var + fill(l.g, {}, DType::F32, 1e-5));
  l.g.output("y", d * rstd * l.w + l.b);
  Graph g = l.g;
  EXPECT_EQ(fuse(g).layer_norm, 0);
}

}  // namespace
}  // namespace frost
