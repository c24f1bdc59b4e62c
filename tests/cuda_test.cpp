// The cuda backend's own behaviour: what a CUDA build says without a device, every op's kernel present,
// recorded runs (CUDA graphs) replaying with new inputs, bad indices reported as errors, copies larger than
// the staging buffer. The op table and the model's parity fixtures run on the GPU through the kernel paths
// of op_test and parity_test (tests/test_util.cpp: kernel_paths() lists "cuda" where a device is present).
// Tests that need a device skip visibly without one (ctest reports them as skipped, never passed).
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/backend.h"
#include "engine/cuda/cuda_info.h"
#include "engine/error.h"
#include "engine/kernel.h"
#include "ops/api.h"
#include "test_util.h"

namespace frost {
namespace {

bool have_device() {
  return cuda_device_count() > 0;
}

#define REQUIRE_CUDA_DEVICE() \
  if (!have_device()) GTEST_SKIP() << cuda_describe_devices()

// Every op with an F32 kernel on the host has one on the cuda backend (the registry, no device needed).
TEST(CudaKernels, EveryOpWithAHostKernelHasACudaKernel) {
  ops::register_all();
  int checked = 0;
  for (int k = 0; k < kNumOpKinds; ++k) {
    for (const auto& [dtype, kernel] : kernel_registry().list(OpKind(k), BackendKind::Reference)) {
      if (dtype != DType::F32) continue;
      const auto cuda = kernel_registry().list(OpKind(k), BackendKind::Cuda);
      EXPECT_TRUE(std::any_of(cuda.begin(), cuda.end(), [](const auto& e) { return e.first == DType::F32; }))
          << "op '" << op_name(OpKind(k)) << "' has no F32 kernel on the cuda backend";
      ++checked;
    }
  }
  EXPECT_GE(checked, kNumOpKinds - 1);  // every op but reshape (a view) has a reference kernel
}

TEST(CudaBackend, IsAvailableExactlyWhenADeviceIsPresent) {
  const std::vector<std::string> b = available_backends();
  const bool listed = std::find(b.begin(), b.end(), "cuda") != b.end();
  EXPECT_EQ(listed, have_device());
  if (have_device()) return;
  try {
    get_backend("cuda");
    FAIL() << "get_backend(\"cuda\") succeeded without a device";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Unsupported);
    EXPECT_NE(std::string(e.what()).find("no device"), std::string::npos) << e.what();
  }
}

// A run is recorded once and replayed: later runs must see new inputs and updated state.
TEST(CudaBackend, RecordedRunsSeeNewInputsAndState) {
  REQUIRE_CUDA_DEVICE();
  Graph g;
  Tensor x = g.input("x", DType::F32, {64, 48});
  Tensor w = g.state("w", DType::F32, {48, 32});
  Tensor y = gelu(matmul(x, w)) * 2.0;
  g.output("y", y);
  auto cuda = compile(g, {.backend = "cuda"});
  auto reference = compile(g, {.backend = "reference"});
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const HostTensor xv = test::uniform(DType::F32, {64, 48}, seed),
                     wv = test::uniform(DType::F32, {48, 32}, seed + 10);
    for (auto* cg : {cuda.get(), reference.get()}) {
      cg->set_input("x", xv);
      cg->set_state("w", wv);
      cg->run();
    }
    EXPECT_TRUE(test::close(cuda->output_copy("y"), reference->output_copy("y"), 1e-5, 1e-5))
        << "run " << seed;
  }
}

// An index outside the table is an error naming it, and the next good run is unaffected.
TEST(CudaBackend, AnIndexOutsideTheTableIsAnError) {
  REQUIRE_CUDA_DEVICE();
  Graph g;
  Tensor table = g.input("table", DType::F32, {10, 4});
  Tensor idx = g.input("idx", DType::I64, {3});
  g.output("rows", gather_rows(table, idx));
  auto cg = compile(g, {.backend = "cuda"});
  cg->set_input("table", test::uniform(DType::F32, {10, 4}, 1));
  HostTensor bad(DType::I64, {3});
  bad.data<int64_t>()[0] = 2;
  bad.data<int64_t>()[1] = 10;
  bad.data<int64_t>()[2] = 0;
  cg->set_input("idx", bad);
  try {
    cg->run();
    FAIL() << "an index of 10 into 10 rows ran";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("index 10 at position 1"), std::string::npos) << e.what();
  }
  bad.data<int64_t>()[1] = 9;
  cg->set_input("idx", bad);
  EXPECT_NO_THROW(cg->run());
}

// Copies go through a 32 MiB pinned buffer in chunks: a 40 MiB state survives the round trip.
TEST(CudaBackend, CopiesLargerThanTheStagingBufferRoundTrip) {
  REQUIRE_CUDA_DEVICE();
  Graph g;
  Tensor s = g.state("s", DType::F32, {10 << 20});
  g.output("twice", s * 2.0);
  auto cg = compile(g, {.backend = "cuda"});
  const HostTensor v = test::uniform(DType::F32, {10 << 20}, 7);
  cg->set_state("s", v);
  EXPECT_TRUE(test::bit_identical(cg->state_copy("s"), v));
  cg->run();
  const HostTensor twice = cg->output_copy("twice");
  for (int64_t i = 0; i < v.numel(); i += 4099) ASSERT_EQ(twice.data<float>()[i], 2.0f * v.data<float>()[i]);
}

}  // namespace
}  // namespace frost
