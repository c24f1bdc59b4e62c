// The cpu backend's own permute for the permutations that keep trailing dims in place — every head
// split and merge of attention ((B, L, H, D) <-> (B, H, L, D)) and the video model's regrouping: the
// kept trailing block is copied as one run per outer index, outer indices split over the OpenMP pool.
// Any dtype (it moves bytes). Permutations that move the last dim decline to the reference kernel.
#include <omp.h>

#include <cstring>

#include "engine/kernel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

constexpr int64_t kMinRun = 8;  // shorter runs are no faster than the reference's element loop

// The number of trailing dims the permutation leaves in place.
int kept_trailing(const std::vector<int64_t>& perm) {
  int t = 0;
  for (int d = int(perm.size()) - 1; d >= 0 && perm[size_t(d)] == d; --d) ++t;
  return t;
}

bool supports_permute(const Graph& g, const Node& n) {
  const Shape& in = g.value(n.inputs[0]).type.shape;
  const int t = kept_trailing(n.attrs.axes);
  if (in.numel() == 0) return false;
  int64_t run = 1;  // the identity permutation is one run of everything
  for (int d = in.rank() - t; d < in.rank(); ++d) run *= in[d];
  return run >= kMinRun;
}

void permute_kernel(const KernelContext& ctx) {
  const Shape& in = ctx.in[0].shape;
  const Shape& out = ctx.out[0].shape;
  const std::vector<int64_t>& perm = ctx.node->attrs.axes;
  const int rank = in.rank(), t = kept_trailing(perm), outer_rank = rank - t;
  const size_t width = size_of(ctx.out[0].dtype);
  int64_t run = 1;
  for (int d = outer_rank; d < rank; ++d) run *= in[d];
  const auto in_strides = contiguous_strides(in);
  const int64_t outer = out.numel() / run;
  const char* x = static_cast<const char*>(ctx.in[0].data);
  char* y = static_cast<char*>(ctx.out[0].data);
#pragma omp parallel for schedule(static) if (out.numel() > 65536)
  for (int64_t o = 0; o < outer; ++o) {
    // Unravel o over the output's outer dims; each output dim d reads input dim perm[d].
    int64_t rest = o, offset = 0;
    for (int d = outer_rank - 1; d >= 0; --d) {
      offset += (rest % out[d]) * in_strides[size_t(perm[size_t(d)])];
      rest /= out[d];
    }
    std::memcpy(y + size_t(o * run) * width, x + size_t(offset) * width, size_t(run) * width);
  }
}

}  // namespace

void register_cpu_own_layout_kernels(KernelRegistry& r) {
  for (int i = 0; i < kNumDTypes; ++i)
    r.add(OpKind::Permute, BackendKind::Cpu, DType(i), {"cpu.permute", permute_kernel, supports_permute});
}

}  // namespace frost::ops
