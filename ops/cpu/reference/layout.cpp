// Reference kernels for permute, contiguous and expand. They move elements without interpreting them, so
// one instantiation per element size serves every dtype. Reshape is a view and has no kernel.
#include <cstring>

#include "engine/kernel.h"
#include "ops/cpu/reference/loops.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {
using reference::Bits;
using reference::for_each_offset;
using reference::Strides;

template <int Bytes>
void permute_kernel(const KernelContext& ctx) {
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

template <int Bytes>
void expand_kernel(const KernelContext& ctx) {
  using E = typename Bits<Bytes>::type;
  const TensorView &in = ctx.in[0], &out = ctx.out[0];
  const E* x = in.as<const E>();
  E* y = out.as<E>();
  for_each_offset(out.shape, broadcast_strides(in.shape, out.shape),
                  [&](int64_t i, int64_t off) { y[i] = x[off]; });
}

void copy_kernel(const KernelContext& ctx) {
  if (ctx.out[0].bytes()) std::memcpy(ctx.out[0].data, ctx.in[0].data, ctx.out[0].bytes());
}

}  // namespace

void register_reference_layout_kernels(KernelRegistry& r) {
  for (int i = 0; i < kNumDTypes; ++i) {
    DType dt = DType(i);
    void (*permute)(const KernelContext&) = nullptr;
    void (*expand)(const KernelContext&) = nullptr;
    switch (size_of(dt)) {
      case 1:
        permute = permute_kernel<1>, expand = expand_kernel<1>;
        break;
      case 2:
        permute = permute_kernel<2>, expand = expand_kernel<2>;
        break;
      case 4:
        permute = permute_kernel<4>, expand = expand_kernel<4>;
        break;
      case 8:
        permute = permute_kernel<8>, expand = expand_kernel<8>;
        break;
    }
    r.add(OpKind::Permute, BackendKind::Reference, dt, {"reference.permute", permute});
    r.add(OpKind::Expand, BackendKind::Reference, dt, {"reference.expand", expand});
    r.add(OpKind::Contiguous, BackendKind::Reference, dt, {"reference.contiguous", copy_kernel});
  }
}

}  // namespace frost::ops
