// AdamW in the graph against PyTorch (tests/parity/make_adamw_fixtures.py): transformers 4.x AdamW (the
// reference's, transcribed) and torch.optim.AdamW, with and without weight decay, at the reference's lr
// and a large one, six steps of gradients of alternating scale; and transformers' three lr schedules.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/compiled_graph.h"
#include "engine/error.h"
#include "loader/safetensors.h"
#include "test_util.h"
#include "train/adamw.h"

namespace frost::train {
namespace {

const std::string kFixture = std::string(FROST_PARITY_DIR) + "/fixtures/adamw.safetensors";

class AdamWParity : public ::testing::TestWithParam<test::KernelPath> {};

TEST_P(AdamWParity, StepsEqualPyTorch) {
  const auto f = loader::SafetensorsFile::open(kFixture);
  const auto meta = nlohmann::json::parse(f.metadata().at("fixture"));
  const int64_t steps = meta.at("steps").get<int64_t>();
  int checked = 0;
  for (const auto& c : meta.at("cases")) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    AdamWOptions o;
    o.variant = c.at("variant") == "torch" ? AdamWVariant::Torch : AdamWVariant::Transformers;
    o.lr = c.at("lr").get<double>();
    o.weight_decay = c.at("weight_decay").get<double>();
    const HostTensor p0 = f.read(name + ".p0"), grads = f.read(name + ".grads"),
                     params = f.read(name + ".params");
    const Shape shape = p0.shape();
    Graph g;
    Tensor w = g.state("w", DType::F32, shape, std::make_shared<HostTensor>(p0));
    Tensor grad = g.input("g", DType::F32, shape);
    const AdamWGraph adam = add_adamw(g, std::vector<Tensor>{w}, std::vector<Tensor>{grad},
                                      [](const std::string&) { return true; });
    auto cg = compile(g, GetParam().options);
    const int64_t n = shape.numel();
    for (int64_t s = 0; s < steps; ++s) {
      HostTensor gs(DType::F32, shape);
      std::memcpy(gs.raw(), grads.data<float>() + s * n, size_t(n) * sizeof(float));
      cg->set_input("g", gs);
      adam.set_step(*cg, o, s + 1, o.lr);
      cg->run();
      HostTensor want(DType::F32, shape);
      std::memcpy(want.raw(), params.data<float>() + s * n, size_t(n) * sizeof(float));
      EXPECT_TRUE(test::close(cg->state_copy("w"), want, 1e-6, 1e-4)) << "after step " << s + 1;
      // Ten times tighter than the bound: the same f32 operations in PyTorch's order (its vectorised
      // kernels still round a few ulps differently).
      EXPECT_TRUE(test::close(cg->state_copy("w"), want, 1e-7, 1e-5)) << "after step " << s + 1 << " (tight)";
    }
    EXPECT_TRUE(test::close(cg->state_copy("adamw.m.w"), f.read(name + ".m"), 1e-7, 1e-5));
    EXPECT_TRUE(test::close(cg->state_copy("adamw.v.w"), f.read(name + ".v"), 1e-7, 1e-5));
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

INSTANTIATE_TEST_SUITE_P(KernelPaths, AdamWParity, ::testing::ValuesIn(test::kernel_paths()),
                         [](const ::testing::TestParamInfo<test::KernelPath>& info) {
                           std::string n = info.param.label;
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(Schedules, EqualTransformersLambdas) {
  const auto f = loader::SafetensorsFile::open(kFixture);
  for (const auto& [label, kind] :
       {std::pair{"constant", ScheduleKind::Constant}, std::pair{"linear", ScheduleKind::Linear},
        std::pair{"cosine", ScheduleKind::Cosine}}) {
    const HostTensor want = f.read(std::string("schedule.") + label);
    const Schedule s{kind, 4, 20};
    for (int64_t step = 0; step < want.shape()[0]; ++step)
      EXPECT_NEAR(schedule_factor(s, step), want.data<double>()[step], 1e-15) << label << " step " << step;
  }
}

TEST(AdamWOptions, DecayGroupsAndBadValues) {
  EXPECT_TRUE(decays_by_default("video_model.blocks.0.mlp.fc1.weight"));
  EXPECT_FALSE(decays_by_default("video_model.blocks.0.mlp.fc1.bias"));
  EXPECT_FALSE(decays_by_default("text_model.embeddings.LayerNorm.weight"));
  EXPECT_FALSE(decays_by_default("video_model.blocks.0.norm1.weight"));
  EXPECT_THROW(adamw_coefficients({}, 0, 1e-3, true), Error);
  AdamWOptions bad;
  bad.beta1 = 1.0;
  EXPECT_THROW(adamw_coefficients(bad, 1, 1e-3, true), Error);
  EXPECT_THROW(schedule_factor({ScheduleKind::Linear, 10, 5}, 12), Error);
}

}  // namespace
}  // namespace frost::train
