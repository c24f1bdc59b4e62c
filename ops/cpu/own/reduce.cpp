// The cpu backend's own f32 sum and mean for the two layouts the model reduces: over trailing axes
// (row sums: pooling, softmax-style statistics) and over leading axes (column sums: every bias gradient
// sums (B, L, C) down to (C)). Accumulation is in double, in a fixed order, split over the OpenMP pool by
// output element (deterministic); column sums keep their running totals in the plan's workspace. Other
// axis sets decline to the reference kernel.
#include <omp.h>

#include "engine/kernel.h"
#include "ops/cpu/parallel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

// (outer, inner) when the reduced axes are a contiguous leading or trailing run; leading == true means
// the leading `outer` rows are summed into `inner` columns.
struct ReduceLayout {
  bool ok = false, leading = false;
  int64_t outer = 1, inner = 1;
};

ReduceLayout layout_of(const Shape& in, const std::vector<int64_t>& axes) {
  ReduceLayout l;
  if (axes.empty() || in.numel() == 0) return l;
  const int first = int(axes.front()), last = int(axes.back());
  if (last - first + 1 != int(axes.size())) return l;  // not contiguous
  if (last == in.rank() - 1) {                         // trailing: rows of length prod(reduced)
    for (int d = 0; d < first; ++d) l.outer *= in[d];
    for (int d = first; d < in.rank(); ++d) l.inner *= in[d];
    l.ok = true;
  } else if (first == 0) {  // leading: columns of length prod(kept)
    for (int d = 0; d <= last; ++d) l.outer *= in[d];
    for (int d = last + 1; d < in.rank(); ++d) l.inner *= in[d];
    l.ok = l.leading = true;
  }
  return l;
}

bool supports_reduce(const Graph& g, const Node& n) {
  return g.value(n.inputs[0]).type.dtype == DType::F32 &&
         layout_of(g.value(n.inputs[0]).type.shape, n.attrs.axes).ok;
}

KernelPrep prepare_reduce(const Graph& g, const Node& n) {
  const ReduceLayout l = layout_of(g.value(n.inputs[0]).type.shape, n.attrs.axes);
  KernelPrep prep;
  if (l.leading) prep.workspace_bytes = size_t(l.inner) * sizeof(double);
  return prep;
}

template <bool Mean>
void reduce_kernel(const KernelContext& ctx) {
  const ReduceLayout l = layout_of(ctx.in[0].shape, ctx.node->attrs.axes);
  const float* x = ctx.in[0].as<const float>();
  float* y = ctx.out[0].as<float>();
  if (!l.leading) {
    const double scale = Mean ? 1.0 / double(l.inner) : 1.0;
    parallel_for(l.outer, l.outer * l.inner > 65536, [&](int64_t r) {
      double acc = 0;
      for (int64_t j = 0; j < l.inner; ++j) acc += double(x[r * l.inner + j]);
      y[r] = float(acc * scale);
    });
    return;
  }
  // Column sums: each thread owns a slice of columns and walks every row over it, in row order.
  double* acc = static_cast<double*>(ctx.workspace);
  const double scale = Mean ? 1.0 / double(l.outer) : 1.0;
  parallel_region(l.outer * l.inner > 65536, [&](int t, int threads) {
    const int64_t j0 = l.inner * t / threads, j1 = l.inner * (t + 1) / threads;
    for (int64_t j = j0; j < j1; ++j) acc[j] = 0;
    for (int64_t r = 0; r < l.outer; ++r)
      for (int64_t j = j0; j < j1; ++j) acc[j] += double(x[r * l.inner + j]);
    for (int64_t j = j0; j < j1; ++j) y[j] = float(acc[j] * scale);
  });
}

}  // namespace

void register_cpu_own_reduce_kernels(KernelRegistry& r) {
  r.add(OpKind::Sum, BackendKind::Cpu, DType::F32,
        {"cpu.sum", reduce_kernel<false>, supports_reduce, prepare_reduce});
  r.add(OpKind::Mean, BackendKind::Cpu, DType::F32,
        {"cpu.mean", reduce_kernel<true>, supports_reduce, prepare_reduce});
}

}  // namespace frost::ops
