// The cpu backend's own layout kernels, for the shapes the models use: permute (the permutations that keep
// trailing dims in place — every head split and merge of attention, (B, L, H, D) <-> (B, H, L, D), and the
// video model's regrouping — and, as a tiled transpose, those that move the last dim next to last), slice
// with step 1 and its gradient, expand, repeat, repeat_interleave and concat. Each copies contiguous runs
// (one per outer index, outer indices split over the OpenMP pool) or tiles and moves bytes, so one kernel
// serves every dtype. Shapes whose runs are too short decline to the reference kernel.
#include <omp.h>

#include <algorithm>
#include <cstdint>
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

// ---- permute that moves the last dim: a batched, tiled 2-D transpose
// ---------------------------------------- When the input's last dim becomes the output's second-to-last (the
// patch embedding's (B·F, C, N) -> (B·F, N, C), a matrix transpose), each output plane (R, C) = (in[last],
// in[p]) reads x[r + c·stride_p]: done in tiles so that reads and writes both stay within a few cache lines.
constexpr int64_t kTile = 32;

// The input dim the output's last dim reads, when the permutation is a batched transpose; -1 otherwise.
int transposed_dim(const std::vector<int64_t>& perm) {
  const int rank = int(perm.size());
  if (rank < 2 || perm[size_t(rank - 2)] != rank - 1) return -1;
  return int(perm[size_t(rank - 1)]);
}

bool supports_transpose(const Graph& g, const Node& n) {
  const Shape& out = g.value(n.outputs[0]).type.shape;
  const int rank = out.rank();
  return transposed_dim(n.attrs.axes) >= 0 && out.numel() > 0 && out[rank - 2] >= kMinRun &&
         out[rank - 1] >= kMinRun;
}

template <class E>
void transpose_planes(const KernelContext& ctx, int p) {
  const Shape& in = ctx.in[0].shape;
  const Shape& out = ctx.out[0].shape;
  const std::vector<int64_t>& perm = ctx.node->attrs.axes;
  const int rank = out.rank();
  const int64_t R = out[rank - 2], C = out[rank - 1], planes = out.numel() / (R * C);
  const int64_t row_tiles = (R + kTile - 1) / kTile, col_tiles = (C + kTile - 1) / kTile;
  const auto in_strides = contiguous_strides(in);
  const int64_t stride_p = in_strides[size_t(p)];
  const E* x = static_cast<const E*>(ctx.in[0].data);
  E* y = static_cast<E*>(ctx.out[0].data);
  parallel_for(planes * row_tiles, out.numel() > 65536, [&](int64_t task) {
    const int64_t plane = task / row_tiles, r0 = (task % row_tiles) * kTile, r1 = std::min(R, r0 + kTile);
    int64_t rest = plane, base = 0;  // the plane's batch dims: output dim d reads input dim perm[d]
    for (int d = rank - 3; d >= 0; --d) {
      base += (rest % out[d]) * in_strides[size_t(perm[size_t(d)])];
      rest /= out[d];
    }
    E* yp = y + plane * R * C;
    for (int64_t t = 0; t < col_tiles; ++t) {
      const int64_t c0 = t * kTile, c1 = std::min(C, c0 + kTile);
      for (int64_t c = c0; c < c1; ++c) {
        const E* xc = x + base + c * stride_p;
        for (int64_t r = r0; r < r1; ++r) yp[r * C + c] = xc[r];
      }
    }
  });
}

void transpose_kernel(const KernelContext& ctx) {
  const int p = transposed_dim(ctx.node->attrs.axes);
  switch (size_of(ctx.out[0].dtype)) {
    case 1:
      return transpose_planes<uint8_t>(ctx, p);
    case 2:
      return transpose_planes<uint16_t>(ctx, p);
    case 4:
      return transpose_planes<uint32_t>(ctx, p);
    default:
      return transpose_planes<uint64_t>(ctx, p);
  }
}

// ---- repeat_interleave -----------------------------------------------------------------------------------
// (repeat shares expand's kernel below: both are tilings.)
// repeat_interleave(x, count, axis): the output viewed as (outer, n, count, inner) reads (outer, n, inner):
// output run o (of inner elements) is input run o / count.
bool supports_repeat_interleave(const Graph& g, const Node& n) {
  const Shape& in = g.value(n.inputs[0]).type.shape;
  int64_t inner = 1;
  for (int d = int(n.attrs.axis) + 1; d < in.rank(); ++d) inner *= in[d];
  return g.value(n.outputs[0]).type.shape.numel() > 0 && inner >= kMinRun;
}

void repeat_interleave_kernel(const KernelContext& ctx) {
  const Shape& in = ctx.in[0].shape;
  int64_t inner = 1;
  for (int d = int(ctx.node->attrs.axis) + 1; d < in.rank(); ++d) inner *= in[d];
  const int64_t count = ctx.node->attrs.count;
  copy_runs(ctx, inner, [&](int64_t o) { return o / count * inner; });
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
  const Shape& out = g.value(n.outputs[0]).type.shape;
  const int axis = int(n.attrs.axis);
  // The run must lie inside each block (the row checks it; the kernel's head/tail sizes rely on it).
  if (n.attrs.step != 1 || out.numel() == 0 || n.attrs.start + dy[axis] > out[axis]) return false;
  int64_t run = 1;
  for (int d = axis; d < dy.rank(); ++d) run *= dy[d];
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

// ---- expand and repeat: tiling copies ---------------------------------------------------------------------
// Output index i_d reads input index i_d mod in[d] (new leading dims read index 0): for expand in[d] is 1
// or out[d], so this is broadcasting; for repeat it tiles (the video model's positional table
// (1, N, C) -> (1, F·N, C) is F·N runs of C). The trailing dims where input and output agree form a
// contiguous run; every output run reads the input run its index maps to.
int64_t tile_run(const Shape& in, const Shape& out, int* outer_rank) {
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

bool supports_tile(const Graph& g, const Node& n) {
  const Shape& in = g.value(n.inputs[0]).type.shape;
  const Shape& out = g.value(n.outputs[0]).type.shape;
  int outer_rank = 0;
  return out.numel() > 0 && tile_run(in, out, &outer_rank) >= kMinRun;
}

void tile_kernel(const KernelContext& ctx) {
  const Shape& in = ctx.in[0].shape;
  const Shape& out = ctx.out[0].shape;
  int outer_rank = 0;
  const int64_t run = tile_run(in, out, &outer_rank);
  const int pad = out.rank() - in.rank();
  const auto in_strides = contiguous_strides(in);
  copy_runs(ctx, run, [&](int64_t o) {
    int64_t rest = o, offset = 0;
    for (int d = outer_rank - 1; d >= 0; --d) {
      const int64_t idx = rest % out[d];
      rest /= out[d];
      const int di = d - pad;
      if (di >= 0) offset += (idx % in[di]) * in_strides[size_t(di)];
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
    r.add(OpKind::Permute, BackendKind::Cpu, DType(i),
          {"cpu.transpose", transpose_kernel, supports_transpose});
    r.add(OpKind::Repeat, BackendKind::Cpu, DType(i), {"cpu.repeat", tile_kernel, supports_tile});
    r.add(OpKind::RepeatInterleave, BackendKind::Cpu, DType(i),
          {"cpu.repeat_interleave", repeat_interleave_kernel, supports_repeat_interleave});
    r.add(OpKind::Slice, BackendKind::Cpu, DType(i), {"cpu.slice", slice_kernel, supports_slice});
    r.add(OpKind::SliceBackward, BackendKind::Cpu, DType(i),
          {"cpu.slice_backward", slice_backward_kernel, supports_slice_backward});
    r.add(OpKind::Expand, BackendKind::Cpu, DType(i), {"cpu.expand", tile_kernel, supports_tile});
    r.add(OpKind::Concat, BackendKind::Cpu, DType(i), {"cpu.concat", concat_kernel, supports_concat});
  }
}

}  // namespace frost::ops
