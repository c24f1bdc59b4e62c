// The cpu backend's own layout kernels, for the shapes the models use: permute (the permutations that keep
// trailing dims in place — every head split and merge of attention, (B, L, H, D) <-> (B, H, L, D), and the
// video model's regrouping), slice with step 1 and its gradient, expand and concat. Each copies contiguous
// runs (one per outer index, outer indices split over the OpenMP pool) and moves bytes, so one kernel serves
// every dtype. Shapes whose runs are too short decline to the reference kernel.
#include <omp.h>

#include <cstring>

#include "engine/kernel.h"
#include "ops/cpu/parallel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

constexpr int64_t kMinRun = 8;  // shorter runs are no faster than the reference's element loop

// The shared loop of these kernels: output run o (of `run` elements of `width` bytes) is copied from the
// input at element offset source(o); runs are split over the OpenMP pool when the output is large.
template <class Source>
void copy_runs(const KernelContext& ctx, int64_t run, Source source) {
  const size_t width = size_of(ctx.out[0].dtype);
  const int64_t total = ctx.out[0].shape.numel(), outer = total / run;
  const char* x = static_cast<const char*>(ctx.in[0].data);
  char* y = static_cast<char*>(ctx.out[0].data);
  parallel_for(outer, total > 65536, [&](int64_t o) {
    std::memcpy(y + size_t(o * run) * width, x + size_t(source(o)) * width, size_t(run) * width);
  });
}

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
  const int rank = in.rank(), outer_rank = rank - kept_trailing(perm);
  int64_t run = 1;
  for (int d = outer_rank; d < rank; ++d) run *= in[d];
  const auto in_strides = contiguous_strides(in);
  copy_runs(ctx, run, [&](int64_t o) {
    // Unravel o over the output's outer dims; each output dim d reads input dim perm[d].
    int64_t rest = o, offset = 0;
    for (int d = outer_rank - 1; d >= 0; --d) {
      offset += (rest % out[d]) * in_strides[size_t(perm[size_t(d)])];
      rest /= out[d];
    }
    return offset;
  });
}

// ---- slice (step 1) ----------------------------------------------------------------------------------
// The slice of rows [start, stop) along `axis` is, per outer index (the dims before the axis), one
// contiguous run of (stop - start) x inner elements.
bool supports_slice(const Graph& g, const Node& n) {
  const Shape& out = g.value(n.outputs[0]).type.shape;
  if (n.attrs.step != 1 || out.numel() == 0) return false;
  int64_t run = 1;
  for (int d = int(n.attrs.axis); d < out.rank(); ++d) run *= out[d];
  return run >= kMinRun;
}

void slice_kernel(const KernelContext& ctx) {
  const Shape& in = ctx.in[0].shape;
  const Shape& out = ctx.out[0].shape;
  const int axis = int(ctx.node->attrs.axis);
  int64_t inner = 1;
  for (int d = axis + 1; d < in.rank(); ++d) inner *= in[d];
  const int64_t in_block = in[axis] * inner, start = ctx.node->attrs.start * inner;
  copy_runs(ctx, out[axis] * inner, [&](int64_t o) { return o * in_block + start; });
}

// ---- slice_backward (step 1) -----------------------------------------------------------------------------
// The gradient of a step-1 slice: per outer index, the output block of in[axis] x inner elements is zeros,
// then the incoming run of (stop - start) x inner elements, then zeros. Each byte is written once (the
// reference zeroes everything first, then scatters element by element).
bool supports_slice_backward(const Graph& g, const Node& n) {
  const Shape& dy = g.value(n.inputs[0]).type.shape;
  if (n.attrs.step != 1 || g.value(n.outputs[0]).type.shape.numel() == 0) return false;
  int64_t run = 1;
  for (int d = int(n.attrs.axis); d < dy.rank(); ++d) run *= dy[d];
  return run >= kMinRun || dy.numel() == 0;
}

void slice_backward_kernel(const KernelContext& ctx) {
  const Shape& dy = ctx.in[0].shape;
  const Shape& out = ctx.out[0].shape;
  const int axis = int(ctx.node->attrs.axis);
  const size_t width = size_of(ctx.out[0].dtype);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= out[d];
  for (int d = axis + 1; d < out.rank(); ++d) inner *= out[d];
  const size_t block = size_t(out[axis] * inner) * width,
               head = size_t(ctx.node->attrs.start * inner) * width, run = size_t(dy[axis] * inner) * width,
               tail = block - head - run;
  const char* x = static_cast<const char*>(ctx.in[0].data);
  char* y = static_cast<char*>(ctx.out[0].data);
  parallel_for(outer, out.numel() > 65536, [&](int64_t o) {
    char* b = y + size_t(o) * block;
    if (head) std::memset(b, 0, head);
    if (run) std::memcpy(b + head, x + size_t(o) * run, run);
    if (tail) std::memset(b + head + run, 0, tail);
  });
}

// ---- expand ---------------------------------------------------------------------------------------------
// Broadcasting copies: the trailing dims where input and output agree form a contiguous run; every output
// run reads the input run its broadcast index maps to.
int64_t expand_run(const Shape& in, const Shape& out, int* outer_rank) {
  const int pad = out.rank() - in.rank();
  int64_t run = 1;
  int d = out.rank() - 1;
  for (; d >= 0; --d) {
    const int64_t i = d - pad >= 0 ? in[d - pad] : 1;
    if (i != out[d]) break;
    run *= out[d];
  }
  *outer_rank = d + 1;
  return run;
}

bool supports_expand(const Graph& g, const Node& n) {
  const Shape& in = g.value(n.inputs[0]).type.shape;
  const Shape& out = g.value(n.outputs[0]).type.shape;
  int outer_rank = 0;
  return out.numel() > 0 && expand_run(in, out, &outer_rank) >= kMinRun;
}

void expand_kernel(const KernelContext& ctx) {
  const Shape& in = ctx.in[0].shape;
  const Shape& out = ctx.out[0].shape;
  int outer_rank = 0;
  const int64_t run = expand_run(in, out, &outer_rank);
  const int pad = out.rank() - in.rank();
  const auto in_strides = contiguous_strides(in);
  copy_runs(ctx, run, [&](int64_t o) {
    int64_t rest = o, offset = 0;
    for (int d = outer_rank - 1; d >= 0; --d) {
      const int64_t idx = rest % out[d];
      rest /= out[d];
      const int di = d - pad;
      if (di >= 0 && in[di] != 1) offset += idx * in_strides[size_t(di)];
    }
    return offset;
  });
}

// ---- concat ---------------------------------------------------------------------------------------------
// As the reference (block j of input i lands at block j of the output, after inputs 0..i-1's), with the
// outer blocks split over the pool.
void concat_kernel(const KernelContext& ctx) {
  const int64_t axis = ctx.node->attrs.axis;
  const Shape& out = ctx.out[0].shape;
  const size_t width = size_of(ctx.out[0].dtype);
  int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= out[d];
  if (outer == 0) return;
  const size_t out_block = size_t(out.numel() / outer) * width;
  char* y = static_cast<char*>(ctx.out[0].data);
  parallel_for(outer, out.numel() > 65536, [&](int64_t j) {
    size_t offset = 0;
    for (int i = 0; i < ctx.num_in; ++i) {
      const size_t block = size_t(ctx.in[i].shape.numel() / outer) * width;
      if (block)
        std::memcpy(y + size_t(j) * out_block + offset,
                    static_cast<const char*>(ctx.in[i].data) + size_t(j) * block, block);
      offset += block;
    }
  });
}

bool supports_concat(const Graph& g, const Node& n) {
  return g.value(n.outputs[0]).type.shape.numel() > 0;
}

}  // namespace

void register_cpu_own_layout_kernels(KernelRegistry& r) {
  for (int i = 0; i < kNumDTypes; ++i) {
    r.add(OpKind::Permute, BackendKind::Cpu, DType(i), {"cpu.permute", permute_kernel, supports_permute});
    r.add(OpKind::Slice, BackendKind::Cpu, DType(i), {"cpu.slice", slice_kernel, supports_slice});
    r.add(OpKind::SliceBackward, BackendKind::Cpu, DType(i),
          {"cpu.slice_backward", slice_backward_kernel, supports_slice_backward});
    r.add(OpKind::Expand, BackendKind::Cpu, DType(i), {"cpu.expand", expand_kernel, supports_expand});
    r.add(OpKind::Concat, BackendKind::Cpu, DType(i), {"cpu.concat", concat_kernel, supports_concat});
  }
}

}  // namespace frost::ops
