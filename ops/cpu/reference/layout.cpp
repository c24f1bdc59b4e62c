// Reference kernels for the layout ops: permute, contiguous, expand, slice (+ backward), concat, repeat,
// repeat_interleave. They move elements without interpreting them, so one instantiation per element size
// serves every dtype. Reshape is a view and has no kernel.
#include <cstring>

#include "engine/kernel.h"
#include "ops/cpu/reference/loops.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {
using reference::Bits;
using reference::for_each_dtype_by_size;
using reference::for_each_offset;
using reference::Strides;

template <int Bytes>
struct Permute {
  static void run(const KernelContext& ctx) {
    using E = typename Bits<Bytes>::type;
    const TensorView &in = ctx.in[0], &out = ctx.out[0];
    const Strides in_strides = contiguous_strides(in.shape);
    Strides read{};  // reading the input in the output's order
    const std::vector<int64_t>& perm = ctx.node->attrs.axes;
    for (size_t d = 0; d < perm.size(); ++d) read[d] = in_strides[size_t(perm[d])];
    const E* x = in.as<const E>();
    E* y = out.as<E>();
    for_each_offset(out.shape, read, [&](int64_t i, int64_t off) { y[i] = x[off]; });
  }
};

template <int Bytes>
struct Expand {
  static void run(const KernelContext& ctx) {
    using E = typename Bits<Bytes>::type;
    const E* x = ctx.in[0].as<const E>();
    E* y = ctx.out[0].as<E>();
    for_each_offset(ctx.out[0].shape, broadcast_strides(ctx.in[0].shape, ctx.out[0].shape),
                    [&](int64_t i, int64_t off) { y[i] = x[off]; });
  }
};

// Strides that read the slice's elements out of the full tensor (the axis stride scaled by step), and the
// offset of its first element.
Strides slice_strides(const Shape& full, int64_t axis, int64_t step, int64_t start, int64_t* base) {
  Strides s = contiguous_strides(full);
  *base = start * s[size_t(axis)];
  s[size_t(axis)] *= step;
  return s;
}

template <int Bytes>
struct Slice {
  static void run(const KernelContext& ctx) {
    using E = typename Bits<Bytes>::type;
    const Attrs& a = ctx.node->attrs;
    int64_t base = 0;
    const Strides read = slice_strides(ctx.in[0].shape, a.axis, a.step, a.start, &base);
    const E* x = ctx.in[0].as<const E>() + base;
    E* y = ctx.out[0].as<E>();
    for_each_offset(ctx.out[0].shape, read, [&](int64_t i, int64_t off) { y[i] = x[off]; });
  }
};

template <int Bytes>
struct SliceBackward {
  static void run(const KernelContext& ctx) {
    using E = typename Bits<Bytes>::type;
    const Attrs& a = ctx.node->attrs;
    std::memset(ctx.out[0].data, 0, ctx.out[0].bytes());
    int64_t base = 0;
    const Strides write = slice_strides(ctx.out[0].shape, a.axis, a.step, a.start, &base);
    const E* dy = ctx.in[0].as<const E>();
    E* dx = ctx.out[0].as<E>() + base;
    for_each_offset(ctx.in[0].shape, write, [&](int64_t i, int64_t off) { dx[off] = dy[i]; });
  }
};

// Each input is a run of `outer` blocks; block j of input i lands at block j of the output, after the
// blocks of inputs 0..i-1.
void concat_kernel(const KernelContext& ctx) {
  const int64_t axis = ctx.node->attrs.axis;
  const Shape& out = ctx.out[0].shape;
  const size_t width = size_of(ctx.out[0].dtype);
  int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= out[d];
  const size_t out_block = size_t(out.numel() / (outer ? outer : 1)) * width;
  size_t offset = 0;
  for (int i = 0; i < ctx.num_in; ++i) {
    const size_t block = outer ? size_t(ctx.in[i].shape.numel() / outer) * width : 0;
    for (int64_t j = 0; j < outer; ++j) {
      if (block)
        std::memcpy(static_cast<char*>(ctx.out[0].data) + size_t(j) * out_block + offset,
                    static_cast<const char*>(ctx.in[i].data) + size_t(j) * block, block);
    }
    offset += block;
  }
}

// Tiling: output index d maps to input index d mod (input size), on the input shape padded with leading 1s.
template <int Bytes>
struct Repeat {
  static void run(const KernelContext& ctx) {
    using E = typename Bits<Bytes>::type;
    const Shape& out = ctx.out[0].shape;
    const Shape& in = ctx.in[0].shape;
    const int lead = out.rank() - in.rank();
    const Strides in_strides = contiguous_strides(in);
    const E* x = ctx.in[0].as<const E>();
    E* y = ctx.out[0].as<E>();
    const int64_t n = out.numel();
    for (int64_t i = 0; i < n; ++i) {
      int64_t rest = i, off = 0;
      for (int d = out.rank() - 1; d >= lead; --d) {
        const int64_t index = rest % out[d];
        rest /= out[d];
        off += (index % in[d - lead]) * in_strides[size_t(d - lead)];
      }
      y[i] = x[off];
    }
  }
};

// The output viewed as (outer, n, count, inner) reads the input as (outer, n, -, inner).
template <int Bytes>
struct RepeatInterleave {
  static void run(const KernelContext& ctx) {
    using E = typename Bits<Bytes>::type;
    const Shape& in = ctx.in[0].shape;
    const int axis = int(ctx.node->attrs.axis);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= in[d];
    for (int d = axis + 1; d < in.rank(); ++d) inner *= in[d];
    const Shape view{outer, in[axis], ctx.node->attrs.count, inner};
    const Strides read{in[axis] * inner, inner, 0, 1};
    const E* x = ctx.in[0].as<const E>();
    E* y = ctx.out[0].as<E>();
    for_each_offset(view, read, [&](int64_t i, int64_t off) { y[i] = x[off]; });
  }
};

void copy_kernel(const KernelContext& ctx) {
  if (ctx.out[0].bytes()) std::memcpy(ctx.out[0].data, ctx.in[0].data, ctx.out[0].bytes());
}

}  // namespace

void register_reference_layout_kernels(KernelRegistry& r) {
  auto adder = [&r](OpKind kind, const char* name) {
    return [&r, kind, name](DType dt, void (*fn)(const KernelContext&)) {
      r.add(kind, BackendKind::Reference, dt, {name, fn});
    };
  };
  for_each_dtype_by_size<Permute>(adder(OpKind::Permute, "reference.permute"));
  for_each_dtype_by_size<Expand>(adder(OpKind::Expand, "reference.expand"));
  for_each_dtype_by_size<Slice>(adder(OpKind::Slice, "reference.slice"));
  for_each_dtype_by_size<SliceBackward>(adder(OpKind::SliceBackward, "reference.slice_backward"));
  for_each_dtype_by_size<Repeat>(adder(OpKind::Repeat, "reference.repeat"));
  for_each_dtype_by_size<RepeatInterleave>(adder(OpKind::RepeatInterleave, "reference.repeat_interleave"));
  for (int i = 0; i < kNumDTypes; ++i) {
    r.add(OpKind::Contiguous, BackendKind::Reference, DType(i), {"reference.contiguous", copy_kernel});
    r.add(OpKind::Concat, BackendKind::Reference, DType(i), {"reference.concat", concat_kernel});
  }
}

}  // namespace frost::ops
