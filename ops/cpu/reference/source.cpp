// Reference kernels for fill (a constant, on every dtype), assign (copies a value into persistent state)
// and the AdamW update (three states in place).
#include <cmath>
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

// One AdamW step (ops/api.h): in[0], in[2], in[3] are the states' own buffers, written in place. The
// arithmetic is the element's type's, in PyTorch's order (transformers.AdamW / torch.optim.AdamW in f32).
template <class T>
void adamw_kernel(const KernelContext& ctx) {
  T* p = static_cast<T*>(ctx.in[0].data);
  const T* g = ctx.in[1].as<const T>();
  T* m = static_cast<T*>(ctx.in[2].data);
  T* v = static_cast<T*>(ctx.in[3].data);
  const T* c = ctx.in[4].as<const T>();
  const T b1 = c[0], one_minus_b1 = c[1], b2 = c[2], one_minus_b2 = c[3], eps = c[4], pre_decay = c[5];
  const T sqrt_bc2 = c[6], step = c[7], post_decay = c[8];
  const bool lerp = c[9] != T(0);
  const int64_t n = ctx.in[0].shape.numel();
  for (int64_t i = 0; i < n; ++i) {
    m[i] = lerp ? m[i] + one_minus_b1 * (g[i] - m[i]) : m[i] * b1 + one_minus_b1 * g[i];
    v[i] = v[i] * b2 + (one_minus_b2 * g[i]) * g[i];
    T x = p[i] * pre_decay;
    x = x + -step * (m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps));
    p[i] = x + -post_decay * x;
  }
}

}  // namespace

void register_reference_source_kernels(KernelRegistry& r) {
  r.add(OpKind::AdamW, BackendKind::Reference, DType::F32, {"reference.adamw", adamw_kernel<float>});
  r.add(OpKind::AdamW, BackendKind::Reference, DType::F64, {"reference.adamw", adamw_kernel<double>});
  for (int i = 0; i < kNumDTypes; ++i) {
    r.add(OpKind::Fill, BackendKind::Reference, DType(i), {"reference.fill", fill_kernel});
    r.add(OpKind::Assign, BackendKind::Reference, DType(i), {"reference.assign", assign_kernel});
  }
}

}  // namespace frost::ops
