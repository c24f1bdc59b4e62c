// Reference kernels for fill (a constant, on every dtype) and assign (copies a value into persistent state).
#include <cstring>

#include "engine/kernel.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

void fill_kernel(const KernelContext& ctx) {
  const TensorView& out = ctx.out[0];
  const size_t width = size_of(out.dtype);
  const int64_t n = out.shape.numel();
  if (n == 0) return;
  // Convert the value once, then replicate its bytes.
  const double value = ctx.node->attrs.scalar;
  char* y = static_cast<char*>(out.data);
  convert(&value, DType::F64, y, out.dtype, 1);
  for (int64_t i = 1; i < n; ++i) std::memcpy(y + size_t(i) * width, y, width);
}

void assign_kernel(const KernelContext& ctx) {
  // in[0] is the state's own buffer: the one place a kernel writes through an input view.
  if (ctx.in[1].bytes()) std::memmove(ctx.in[0].data, ctx.in[1].data, ctx.in[1].bytes());
}

}  // namespace

void register_reference_source_kernels(KernelRegistry& r) {
  for (int i = 0; i < kNumDTypes; ++i) {
    r.add(OpKind::Fill, BackendKind::Reference, DType(i), {"reference.fill", fill_kernel});
    r.add(OpKind::Assign, BackendKind::Reference, DType(i), {"reference.assign", assign_kernel});
  }
}

}  // namespace frost::ops
