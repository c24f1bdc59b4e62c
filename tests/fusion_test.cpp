// The fusion passes on small graphs: what matches, what must not (an intermediate used elsewhere, another
// axis), idempotence, and the fused op computing what the sequence did.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "engine/autodiff.h"
#include "engine/compiled_graph.h"
#include "engine/error.h"
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

// ---- attention ------------------------------------------------------------------------------------------

// Runs a graph whose inputs are f32 (or u8 masks), fused or not, and returns its outputs.
std::map<std::string, HostTensor> run_all(const Graph& g, bool fuse, const std::string& backend = "cpu") {
  CompileOptions o{.backend = backend};
  o.fuse = fuse;
  auto cg = compile(g, o);
  uint64_t seed = 10;
  for (ValueId v = 0; v < g.num_values(); ++v)
    if (g.value(v).role == ValueRole::Input) {
      const TensorType& t = g.value(v).type;
      const bool u8 = t.dtype == DType::U8;  // 0 or 1
      cg->set_input(g.value(v).name,
                    test::uniform(t.dtype, t.shape, seed++, u8 ? 0.0 : -1.5, u8 ? 2.0 : 1.5));
    }
  cg->run();
  std::map<std::string, HostTensor> out;
  for (const GraphOutput& go : g.outputs()) out.emplace(go.name, cg->output_copy(go.name));
  return out;
}

void expect_fused_equals_unfused(const Graph& g, double tol = 2e-6) {
  for (const char* backend : {"cpu", "reference"}) {
    const auto fused = run_all(g, true, backend), plain = run_all(g, false, backend);
    for (const auto& [name, want] : plain)
      EXPECT_TRUE(test::close(fused.at(name), want, tol, 1e-5)) << name << " on " << backend;
  }
}

// Adds loss = sum(out²) and the gradients of the named inputs as outputs, once fused before autodiff (as
// build_fit_graph does) and once not; runs both on each backend and compares. Returns the fused graph.
Graph expect_gradients_fused_equal_unfused(const Graph& g, Tensor out, const std::vector<std::string>& names,
                                           double tol = 1e-5) {
  Graph train = g;
  Tensor loss = sum(Tensor{&train, out.id} * Tensor{&train, out.id});
  Graph train_fused = train;
  fuse(train_fused, {.activation_epilogues = false});
  for (Graph* t : {&train, &train_fused}) {
    std::vector<Tensor> wrt;
    for (const std::string& name : names) wrt.push_back(Tensor{t, t->find_source(name)});
    std::vector<Tensor> grads = gradients(Tensor{t, loss.id}, wrt);
    for (size_t i = 0; i < grads.size(); ++i) t->output("grad." + names[i], grads[i]);
  }
  for (const char* backend : {"cpu", "reference"}) {
    const auto f = run_all(train_fused, true, backend), u = run_all(train, false, backend);
    for (const auto& [name, want] : u)
      EXPECT_TRUE(test::close(f.at(name), want, tol, 1e-5)) << name << " on " << backend;
  }
  return train_fused;
}

const Node& producer_of(const Graph& g, Tensor t) {
  return g.node(g.value(t.id).producer);
}

TEST(Fusion, AttentionSequenceBecomesOneOp) {
  Graph g;
  Tensor q = g.input("q", DType::F32, {2, 3, 5, 4}), k = g.input("k", DType::F32, {2, 3, 7, 4});
  Tensor v = g.input("v", DType::F32, {2, 3, 7, 6}), bias = g.input("bias", DType::F32, {2, 1, 1, 7});
  Tensor o = nn::attention(q, k, v, bias);
  g.output("o", o);
  Graph fused = g;
  const FusionCounts c = fuse(fused);
  EXPECT_EQ(c.attention, 1);
  EXPECT_EQ(fuse(fused).attention, 0);  // idempotent
  const Node& a = producer_of(fused, o);
  ASSERT_EQ(a.kind, OpKind::Attention);
  EXPECT_EQ(a.inputs, (std::vector<ValueId>{q.id, k.id, v.id, bias.id}));
  EXPECT_DOUBLE_EQ(a.attrs.scalar, 0.5);
  EXPECT_TRUE(a.attrs.masked && !a.attrs.prefix);
  EXPECT_EQ(count_fused_ops(fused).at("attention"), 1);
  expect_fused_equals_unfused(g);
}

// The masked-fill spellings: masked_fill(scores, mask, -inf) = where(mask, -inf, scores) fills where the
// mask is set; where(mask, scores, fill) where it is not. The u8 mask goes to the op; the fill to attrs.
TEST(Fusion, AttentionWithMaskedFill) {
  for (bool where_zero : {false, true}) {
    Graph g;
    Tensor q = g.input("q", DType::F32, {2, 3, 5, 4}), k = g.input("k", DType::F32, {2, 3, 7, 4});
    Tensor v = g.input("v", DType::F32, {2, 3, 7, 6}), mask = g.input("mask", DType::U8, {2, 1, 5, 7});
    Tensor scores = scale(matmul(q, k, false, true), 0.5);
    const double fill_value = where_zero ? -1e4 : -INFINITY;
    Tensor filled = where_zero ? where(mask, scores, fill(g, {}, DType::F32, fill_value))
                               : masked_fill(scores, mask, fill_value);
    Tensor o = matmul(softmax(filled), v);
    g.output("o", o);
    Graph fused = g;
    EXPECT_EQ(fuse(fused).attention, 1);
    const Node& a = producer_of(fused, o);
    ASSERT_EQ(a.kind, OpKind::Attention);
    EXPECT_EQ(a.inputs, (std::vector<ValueId>{q.id, k.id, v.id, mask.id}));
    EXPECT_EQ(a.attrs.fill, fill_value);
    EXPECT_EQ(a.attrs.fill_where_zero, where_zero);
    expect_fused_equals_unfused(g);
    // No row of this mask is all -inf (a NaN row would make the comparisons say little).
    const HostTensor out = run_all(g, true).at("o");
    for (int64_t i = 0; i < out.numel(); ++i) ASSERT_TRUE(std::isfinite(out.at(i))) << i;
    const Graph train = expect_gradients_fused_equal_unfused(g, o, {"q", "k", "v"});
    EXPECT_EQ(count_fused_ops(train).at("attention"), 1);
  }
}

// The other canonical spellings: the scale on q before the first matmul, the mask as the add's first operand.
TEST(Fusion, AttentionWithScaledQueriesAndMaskFirst) {
  Graph g;
  Tensor q = g.input("q", DType::F32, {3, 4, 8}), k = g.input("k", DType::F32, {3, 6, 8});
  Tensor v = g.input("v", DType::F32, {3, 6, 8}), bias = g.input("bias", DType::F32, {6});
  Tensor o = matmul(softmax(bias + matmul(scale(q, 0.25), k, false, true)), v);
  g.output("o", o);
  Graph fused = g;
  EXPECT_EQ(fuse(fused).attention, 1);
  const Node& a = producer_of(fused, o);
  EXPECT_EQ(a.inputs, (std::vector<ValueId>{q.id, k.id, v.id, bias.id}));
  EXPECT_DOUBLE_EQ(a.attrs.scalar, 0.25);
  expect_fused_equals_unfused(g);
}

// The video model's form: one key/value row concatenated in front of every group's keys becomes a prefix
// input read before its expand; forward and gradients agree with the unfused graph.
TEST(Fusion, AttentionPrefixKeyValueIsNotMaterialised) {
  Graph g;
  const int64_t B = 2, H = 2, G = 3, S = 4, D = 8;
  Tensor q = g.input("q", DType::F32, {B, H, G, S, D}), k = g.input("k", DType::F32, {B, H, G, S, D});
  Tensor v = g.input("v", DType::F32, {B, H, G, S, D});
  Tensor ck = g.input("cls_k", DType::F32, {B, H, 1, 1, D}),
         cv = g.input("cls_v", DType::F32, {B, H, 1, 1, D});
  Tensor o = nn::attention(q, concat({expand(ck, {B, H, G, 1, D}), k}, 3),
                           concat({expand(cv, {B, H, G, 1, D}), v}, 3));
  g.output("o", o);
  Graph fused = g;
  EXPECT_EQ(fuse(fused).attention, 1);
  const Node& a = producer_of(fused, o);
  EXPECT_TRUE(a.attrs.prefix);
  EXPECT_EQ(a.inputs, (std::vector<ValueId>{q.id, k.id, v.id, ck.id, cv.id}));
  expect_fused_equals_unfused(g);
  // Gradients of every input, fused (attention_backward) vs unfused.
  const Graph train_fused = expect_gradients_fused_equal_unfused(g, o, {"q", "k", "v", "cls_k", "cls_v"});
  int backward = 0;
  for (NodeId n = 0; n < train_fused.num_nodes(); ++n)
    backward += train_fused.node(n).kind == OpKind::AttentionBackward;
  EXPECT_EQ(backward, 1);
}

// Probability dropout (training) folds into the op with its rate, key and offset; the op draws the dropout
// op's masks, so fused and unfused give the same outputs and gradients on every backend — here past a key
// block (the tiled kernel's wide path) with a mask bias.
TEST(Fusion, AttentionWithProbabilityDropout) {
  Graph g;
  Tensor q = g.input("q", DType::F32, {2, 3, 20, 16}), k = g.input("k", DType::F32, {2, 3, 150, 16});
  Tensor v = g.input("v", DType::F32, {2, 3, 150, 8}), bias = g.input("bias", DType::F32, {2, 1, 1, 150});
  const Tensor offset = fill(g, {}, DType::I64, 3.0);
  Tensor o = nn::attention(q, k, v, bias, [&](Tensor p) { return dropout(p, 0.25, 99, offset); });
  g.output("o", o);
  Graph fused = g;
  EXPECT_EQ(fuse(fused).attention, 1);
  const Node& a = producer_of(fused, o);
  ASSERT_EQ(a.kind, OpKind::Attention);
  EXPECT_EQ(a.attrs.dropout, 0.25);
  EXPECT_EQ(a.attrs.seed, 99u);
  EXPECT_EQ(a.inputs.back(), offset.id);
  expect_fused_equals_unfused(g);
  expect_gradients_fused_equal_unfused(g, o, {"q", "k", "v"});
}

TEST(Fusion, AttentionDoesNotMatchWhenProbabilitiesAreUsedElsewhere) {
  Graph g;
  Tensor q = g.input("q", DType::F32, {3, 4, 8}), k = g.input("k", DType::F32, {3, 6, 8});
  Tensor v = g.input("v", DType::F32, {3, 6, 8});
  Tensor p = softmax(scale(matmul(q, k, false, true), 0.5));
  g.output("o", matmul(p, v));
  g.output("p", p);  // attention weights wanted outside: the fused op does not keep them
  Graph fused = g;
  EXPECT_EQ(fuse(fused).attention, 0);
  // Batch dims that broadcast between q and k are left to the matmuls too.
  Graph b;
  Tensor q1 = b.input("q", DType::F32, {3, 4, 8}), k1 = b.input("k", DType::F32, {1, 6, 8});
  b.output("o", nn::attention(q1, k1, b.input("v", DType::F32, {1, 6, 8})));
  EXPECT_EQ(fuse(b).attention, 0);
}

// compile() reads q, k, v straight out of the packed projection: the head split, the q/k/v slices and the
// grouping copies are gone from the compiled graph, and the numbers are the unfused graph's.
TEST(Fusion, AttentionReadsOperandsThroughStridedViews) {
  Graph g;
  const int64_t B = 2, L = 7, H = 2, D = 4, C = H * D;
  Tensor qkv = g.input("qkv", DType::F32, {B, L, 3 * C});
  Tensor t = permute(reshape(qkv, {B, L, 3, H, D}), {2, 0, 3, 1, 4});  // (3, B, H, L, D)
  auto part = [&](int64_t i) { return reshape(slice(t, 0, i, i + 1), {B, H, L, D}); };
  Tensor o = nn::attention(part(0), part(1), part(2));
  g.output("o", reshape(permute(o, {0, 2, 1, 3}), {B, L, C}));
  // A reshape no strided map can express (merging heads with batch after a permute) restarts the walk at
  // that reshape's own buffer.
  Tensor q2 = reshape(permute(reshape(qkv, {B, L, 3 * H, D}), {0, 2, 1, 3}), {B * 3 * H, L, D});
  g.output("o2", nn::attention(q2, q2, q2));
  auto cg = compile(g, {.backend = "cpu"});
  int viewed = 0, permutes = 0;
  const std::vector<bool> live = live_nodes(cg->graph());
  for (NodeId n = 0; n < cg->graph().num_nodes(); ++n) {
    const Node& node = cg->graph().node(n);
    if (!live[n]) continue;
    permutes += node.kind == OpKind::Permute;
    if (node.kind == OpKind::Attention && !node.attrs.views.empty()) {
      ++viewed;
      if (node.inputs[0] == qkv.id) {
        EXPECT_EQ(node.inputs, (std::vector<ValueId>{qkv.id, qkv.id, qkv.id}));
      }
    }
  }
  EXPECT_EQ(viewed, 1);  // the second attention's operand is that reshape's buffer itself: nothing to absorb
  EXPECT_EQ(permutes, 2);  // the output's head merge, and the permute the second attention cannot skip
  expect_fused_equals_unfused(g);
}

// ---- residual add + layer norm ----------------------------------------------------------------------------

// Pre-LN: the sum feeds the layer norm and the residual add after it; post-LN: only the layer norm.
TEST(Fusion, AddLayerNormKeepsTheResidualStream) {
  for (bool pre_ln : {true, false}) {
    Graph g;
    Tensor x = g.input("x", DType::F32, {2, 5, 8}), f = g.input("f", DType::F32, {2, 5, 8});
    Tensor w = g.input("w", DType::F32, {8}), b = g.input("b", DType::F32, {8});
    Tensor s = x + f;
    Tensor y = nn::layer_norm(s, w, b, 1e-5);
    Tensor out = pre_ln ? s + tanh(y) : tanh(y);  // (y itself as the graph output would stay: see below)
    g.output("out", out);
    Graph fused = g;
    const FusionCounts c = fuse(fused);
    EXPECT_EQ(c.layer_norm, 1);
    EXPECT_EQ(c.add_layer_norm, 1);
    EXPECT_EQ(count_fused_ops(fused), (std::map<std::string, int>{{"add_layer_norm", 1}}));
    // The add node became the fused op: s keeps its id; the layer norm's y moved to output 1.
    const Node& aln = producer_of(fused, s);
    EXPECT_EQ(aln.kind, OpKind::AddLayerNorm);
    EXPECT_EQ(aln.inputs, (std::vector<ValueId>{x.id, f.id, w.id, b.id}));
    EXPECT_EQ(aln.outputs[0], s.id);
    expect_fused_equals_unfused(g);
    const Graph train = expect_gradients_fused_equal_unfused(g, out, {"x", "f", "w", "b"});
    EXPECT_EQ(count_fused_ops(train).at("add_layer_norm"), 1);
  }
}

// The summand that dies at the add goes first, so the sum can take its buffer.
TEST(Fusion, AddLayerNormPutsTheDyingSummandFirst) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {4, 8}), w = g.input("w", DType::F32, {8});
  Tensor b = g.input("b", DType::F32, {8});
  Tensor t = tanh(x);
  Tensor s = x + t;  // x is read again below, t is not
  g.output("out", nn::layer_norm(s, w, b, 1e-5) * x);
  Graph fused = g;
  EXPECT_EQ(fuse(fused).add_layer_norm, 1);
  EXPECT_EQ(producer_of(fused, s).inputs[0], t.id);
  expect_fused_equals_unfused(g);
}

// The moved y' is a new value, so a view made of y before the rewrite (a graph output here) now has a
// smaller value id than its base: the memory planner must still place the base first.
TEST(Fusion, AddLayerNormOutputReadThroughAView) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {3, 8}), f = g.input("f", DType::F32, {3, 8});
  Tensor w = g.input("w", DType::F32, {8}), b = g.input("b", DType::F32, {8});
  g.output("y", reshape(layer_norm(x + f, w, b, 1e-5).y, {24}));
  Graph fused = g;
  EXPECT_EQ(fuse(fused).add_layer_norm, 1);
  expect_fused_equals_unfused(g);
}

TEST(Fusion, AddLayerNormDoesNotMatch) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {3, 8}), w = g.input("w", DType::F32, {8});
  Tensor b = g.input("b", DType::F32, {8}), row = g.input("row", DType::F32, {8});
  g.output("broadcast", nn::layer_norm(x + row, w, b, 1e-5));  // a broadcasting add (a bias): no
  Tensor y = nn::layer_norm(x + x, w, b, 1e-5);
  g.output("y", y);  // a layer norm output that is a graph output stays where it is
  Graph fused = g;
  const FusionCounts c = fuse(fused);
  EXPECT_EQ(c.layer_norm, 2);
  EXPECT_EQ(c.add_layer_norm, 0);
}

// ---- linear ---------------------------------------------------------------------------------------------

TEST(Fusion, MatmulBiasGeluBecomesOneLinear) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {2, 5, 8}), w1 = g.input("w1", DType::F32, {16, 8});
  Tensor b1 = g.input("b1", DType::F32, {16}), w2 = g.input("w2", DType::F32, {16, 8});
  Tensor b2 = g.input("b2", DType::F32, {8});
  Tensor h = gelu(matmul(x, w1, false, /*trans_b=*/true) + b1);  // nn.Linear's (out, in) weight
  Tensor out = b2 + matmul(h, w2);                               // the bias on the left
  g.output("out", out);
  Graph fused = g;
  const FusionCounts c = fuse(fused);
  EXPECT_EQ(c.linear, 2);
  EXPECT_EQ(c.linear_activation, 1);
  EXPECT_EQ(count_fused_ops(fused), (std::map<std::string, int>{{"linear", 2}, {"linear/gelu", 1}}));
  const Node& fc1 = producer_of(fused, h);
  EXPECT_EQ(fc1.kind, OpKind::Linear);
  EXPECT_EQ(fc1.attrs.activation, Activation::Gelu);
  EXPECT_TRUE(fc1.attrs.trans_b);
  EXPECT_EQ(fc1.inputs, (std::vector<ValueId>{x.id, w1.id, b1.id}));
  EXPECT_EQ(producer_of(fused, out).inputs, (std::vector<ValueId>{h.id, w2.id, b2.id}));
  expect_fused_equals_unfused(g, 1e-5);
  // Before autodiff, gelu stays out (FusionOptions::activation_epilogues off); gradients agree.
  const Graph train = expect_gradients_fused_equal_unfused(g, out, {"x", "w1", "b1", "w2", "b2"});
  EXPECT_EQ(count_fused_ops(train), (std::map<std::string, int>{{"linear", 2}}));
  // A gelu epilogue cannot be differentiated: autodiff names the node instead of guessing.
  Graph bad = fused;
  Tensor loss = sum(Tensor{&bad, out.id});
  const std::vector<Tensor> wrt = {Tensor{&bad, w1.id}};
  try {
    gradients(loss, wrt);
    ADD_FAILURE() << "differentiated a gelu epilogue";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gelu epilogue"), std::string::npos) << e.what();
  }
}

TEST(Fusion, LinearDoesNotMatch) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {2, 5, 8}), w = g.input("w", DType::F32, {8, 6});
  Tensor wb = g.input("wb", DType::F32, {2, 8, 6}), b = g.input("b", DType::F32, {6});
  Tensor full = g.input("full", DType::F32, {2, 5, 6});
  Tensor m = matmul(x, w);
  g.output("used_twice", (m + b) * m);             // the product is needed elsewhere
  g.output("batched", matmul(x, wb) + b);          // a weight per batch: a batched matmul
  g.output("not_a_bias", matmul(x, w) + full);     // adds a full tensor, not a bias
  Tensor xt = g.input("xt", DType::F32, {8, 10});  // x stored transposed: op(x) = xt^T
  g.output("transposed_x", matmul(xt, w, true) + b);
  Tensor z = matmul(x, w) + b;
  g.output("gelu_of_shared", gelu(z) + z);  // the pre-activation is read again: gelu stays apart
  Graph fused = g;
  const FusionCounts c = fuse(fused);
  EXPECT_EQ(c.linear, 1);  // only z
  EXPECT_EQ(c.linear_activation, 0);
  expect_fused_equals_unfused(g, 1e-5);
}

}  // namespace
}  // namespace frost
