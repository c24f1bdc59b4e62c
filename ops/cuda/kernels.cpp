// The cuda backend's kernels: the glue between a node (its attrs and shapes) and the launchers of
// ops/cuda/*.cu, registered per (op, Cuda, dtype). Every op that has a kernel on the CPU has one here, F32
// for arithmetic and every element size for the layout ops. Shapes are static, so everything a launch needs
// beyond the buffers is worked out at compile time (prepare) where it costs more than a few integers.
//
// Legend: R rows, C the last dimension; n element count.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "engine/attention_geometry.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/kernel.h"
#include "ops/cuda/launch.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

using cuda::Indexer;

#define FROST_LAUNCH(call) FROST_CUDA_CHECK(call)

int64_t last_dim(const Shape& s) {
  return s.rank() ? s[-1] : 1;
}
int64_t rows_of(const Shape& s) {
  const int64_t C = last_dim(s);
  return C ? s.numel() / C : 0;
}
template <class T>
T* ptr(const TensorView& v) {
  return static_cast<T*>(v.data);
}

// A walk over `shape` reading up to three operands with the given strides.
Indexer walk(const Shape& shape, std::initializer_list<std::array<int64_t, kMaxRank>> strides) {
  Indexer ix;
  ix.rank = shape.rank();
  for (int d = 0; d < shape.rank(); ++d) ix.size[d] = shape[d];
  int k = 0;
  for (const auto& s : strides) {
    for (int d = 0; d < shape.rank(); ++d) ix.stride[k][d] = s[size_t(d)];
    ++k;
  }
  return ix;
}

// ---- elementwise
// ---------------------------------------------------------------------------------------------

template <cuda::Binary Op>
void binary(const KernelContext& ctx) {
  const Shape& out = ctx.out[0].shape;
  FROST_LAUNCH(cuda::binary_f32(
      Op, ptr<const float>(ctx.in[0]), ptr<const float>(ctx.in[1]), ptr<float>(ctx.out[0]),
      walk(out, {broadcast_strides(ctx.in[0].shape, out), broadcast_strides(ctx.in[1].shape, out)}),
      cuda_stream()));
}

void where(const KernelContext& ctx) {
  const Shape& out = ctx.out[0].shape;
  FROST_LAUNCH(cuda::where_f32(
      ptr<const uint8_t>(ctx.in[0]), ptr<const float>(ctx.in[1]), ptr<const float>(ctx.in[2]),
      ptr<float>(ctx.out[0]),
      walk(out, {broadcast_strides(ctx.in[0].shape, out), broadcast_strides(ctx.in[1].shape, out),
                 broadcast_strides(ctx.in[2].shape, out)}),
      cuda_stream()));
}

template <cuda::Unary Op>
void unary(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::unary_f32(Op, ptr<const float>(ctx.in[0]), ptr<float>(ctx.out[0]),
                               ctx.out[0].shape.numel(), cuda_stream()));
}

template <cuda::Derivative Op>
void derivative(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::derivative_f32(Op, ptr<const float>(ctx.in[0]), ptr<const float>(ctx.in[1]),
                                    ptr<float>(ctx.out[0]), ctx.out[0].shape.numel(), cuda_stream()));
}

void scale(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::scale_f32(ptr<const float>(ctx.in[0]), float(ctx.node->attrs.scalar),
                               ptr<float>(ctx.out[0]), ctx.out[0].shape.numel(), cuda_stream()));
}

void cast(const KernelContext& ctx) {
  const TensorView &x = ctx.in[0], &y = ctx.out[0];
  if (x.dtype == y.dtype) {  // a copy, as frost::convert (NaN payloads kept)
    if (y.bytes())
      FROST_CUDA_CHECK(cudaMemcpyAsync(y.data, x.data, y.bytes(), cudaMemcpyDeviceToDevice, cuda_stream()));
    return;
  }
  FROST_LAUNCH(cuda::cast(x.data, int(x.dtype), y.data, int(y.dtype), y.shape.numel(), cuda_stream()));
}

void dropout(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::dropout_f32(ptr<const float>(ctx.in[0]), ptr<const int64_t>(ctx.in[1]),
                                 ctx.node->attrs.seed, ctx.node->attrs.scalar, ptr<float>(ctx.out[0]),
                                 ctx.out[0].shape.numel(), cuda_stream()));
}

// ---- sources, state, optimizer
// ---------------------------------------------------------------------------------

void fill(const KernelContext& ctx) {
  const TensorView& out = ctx.out[0];
  unsigned char value[8] = {};
  const double scalar = ctx.node->attrs.scalar;
  convert(&scalar, DType::F64, value, out.dtype, 1);  // the host's conversion, once
  FROST_LAUNCH(cuda::fill_bytes(out.data, value, int(size_of(out.dtype)), out.shape.numel(), cuda_stream()));
}

void assign(const KernelContext& ctx) {
  // in[0] is the state's own buffer: the one place a kernel writes through an input view.
  if (ctx.in[1].bytes())
    FROST_CUDA_CHECK(cudaMemcpyAsync(ctx.in[0].data, ctx.in[1].data, ctx.in[1].bytes(),
                                     cudaMemcpyDeviceToDevice, cuda_stream()));
}

void adamw(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::adamw_f32(ptr<float>(ctx.in[0]), ptr<const float>(ctx.in[1]), ptr<float>(ctx.in[2]),
                               ptr<float>(ctx.in[3]), ptr<const float>(ctx.in[4]), ctx.in[0].shape.numel(),
                               cuda_stream()));
}

// ---- layout
// ------------------------------------------------------------------------------------------------------

int width_of(const TensorView& v) {
  return int(size_of(v.dtype));
}

void gather(const KernelContext& ctx, const Indexer& ix) {
  FROST_LAUNCH(cuda::gather_copy(ctx.in[0].data, ctx.out[0].data, width_of(ctx.out[0]), ix, cuda_stream()));
}

void zero_output(const KernelContext& ctx) {
  if (ctx.out[0].bytes())
    FROST_CUDA_CHECK(cudaMemsetAsync(ctx.out[0].data, 0, ctx.out[0].bytes(), cuda_stream()));
}

void contiguous(const KernelContext& ctx) {
  if (ctx.out[0].bytes())
    FROST_CUDA_CHECK(cudaMemcpyAsync(ctx.out[0].data, ctx.in[0].data, ctx.out[0].bytes(),
                                     cudaMemcpyDeviceToDevice, cuda_stream()));
}

void permute(const KernelContext& ctx) {
  const auto in_strides = contiguous_strides(ctx.in[0].shape);
  std::array<int64_t, kMaxRank> read{};
  const std::vector<int64_t>& perm = ctx.node->attrs.axes;
  for (size_t d = 0; d < perm.size(); ++d) read[d] = in_strides[size_t(perm[d])];
  gather(ctx, walk(ctx.out[0].shape, {read}));
}

void expand(const KernelContext& ctx) {
  gather(ctx, walk(ctx.out[0].shape, {broadcast_strides(ctx.in[0].shape, ctx.out[0].shape)}));
}

// Strides reading the slice out of the full tensor, and the offset of its first element.
std::array<int64_t, kMaxRank> slice_strides(const Shape& full, const Attrs& a, int64_t* base) {
  auto s = contiguous_strides(full);
  *base = a.start * s[size_t(a.axis)];
  s[size_t(a.axis)] *= a.step;
  return s;
}

void slice(const KernelContext& ctx) {
  int64_t base = 0;
  Indexer ix = walk(ctx.out[0].shape, {slice_strides(ctx.in[0].shape, ctx.node->attrs, &base)});
  ix.base[0] = base;
  gather(ctx, ix);
}

void slice_backward(const KernelContext& ctx) {
  zero_output(ctx);
  int64_t base = 0;
  Indexer ix = walk(ctx.in[0].shape, {slice_strides(ctx.out[0].shape, ctx.node->attrs, &base)});
  ix.base[0] = base;
  FROST_LAUNCH(cuda::scatter_copy(ctx.in[0].data, ctx.out[0].data, width_of(ctx.out[0]), ix, cuda_stream()));
}

// Input i as (outer, its block) lands in the output at (outer, offset + block).
void concat(const KernelContext& ctx) {
  const Shape& out = ctx.out[0].shape;
  int64_t outer = 1;
  for (int d = 0; d < ctx.node->attrs.axis; ++d) outer *= out[d];
  if (outer == 0) return;
  const int64_t out_block = out.numel() / outer;
  int64_t offset = 0;
  for (int i = 0; i < ctx.num_in; ++i) {
    const int64_t block = ctx.in[i].shape.numel() / outer;
    Indexer ix;
    ix.rank = 2;
    ix.size[0] = outer;
    ix.size[1] = block;
    ix.stride[0][0] = out_block;
    ix.stride[0][1] = 1;
    ix.base[0] = offset;
    FROST_LAUNCH(
        cuda::scatter_copy(ctx.in[i].data, ctx.out[0].data, width_of(ctx.out[0]), ix, cuda_stream()));
    offset += block;
  }
}

// Each output dim d = repeats x input dim (input padded with leading 1s): walked as (repeats, in_d) with
// strides (0, input stride).
void repeat(const KernelContext& ctx) {
  const Shape &out = ctx.out[0].shape, &in = ctx.in[0].shape;
  const int lead = out.rank() - in.rank();
  const auto in_strides = contiguous_strides(in);
  Indexer ix;
  for (int d = 0; d < out.rank(); ++d) {
    const int64_t size = d < lead ? 1 : in[d - lead];
    ix.size[ix.rank] = size ? out[d] / size : 0;
    ix.stride[0][ix.rank++] = 0;
    ix.size[ix.rank] = size;
    ix.stride[0][ix.rank++] = d < lead ? 0 : in_strides[size_t(d - lead)];
  }
  gather(ctx, ix);
}

// The output as (outer, n, count, inner) reads the input as (outer, n, -, inner).
void repeat_interleave(const KernelContext& ctx) {
  const Shape& in = ctx.in[0].shape;
  const int axis = int(ctx.node->attrs.axis);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= in[d];
  for (int d = axis + 1; d < in.rank(); ++d) inner *= in[d];
  gather(ctx, walk(Shape{outer, in[axis], ctx.node->attrs.count, inner}, {{in[axis] * inner, inner, 0, 1}}));
}

// (..., N, M) <-> (..., K): element k of matrix b sits at b * N * M + k * (M + 1).
Indexer diagonal_walk(const Shape& matrices) {
  const int64_t N = matrices[-2], M = matrices[-1], K = std::min(N, M);
  const int64_t batch = N * M != 0 ? matrices.numel() / (N * M) : 0;
  return walk(Shape{batch, K}, {{N * M, M + 1}});
}

void diagonal(const KernelContext& ctx) {
  gather(ctx, diagonal_walk(ctx.in[0].shape));
}

void diag_embed(const KernelContext& ctx) {
  zero_output(ctx);
  FROST_LAUNCH(cuda::scatter_copy(ctx.in[0].data, ctx.out[0].data, width_of(ctx.out[0]),
                                  diagonal_walk(ctx.out[0].shape), cuda_stream()));
}

// ---- indexing
// ---------------------------------------------------------------------------------------------------

void gather_rows(const KernelContext& ctx) {
  const TensorView &table = ctx.in[0], &indices = ctx.in[1];
  const int64_t rows = table.shape[0], width = rows ? table.shape.numel() / rows : 0;
  FROST_LAUNCH(cuda::gather_rows_f32(ptr<const float>(table), indices.data, indices.dtype == DType::I64,
                                     ptr<float>(ctx.out[0]), indices.shape.numel(), rows, width,
                                     int(ctx.node_id), cuda_error_slot(), cuda_stream()));
}

void scatter_add_rows(const KernelContext& ctx) {
  const TensorView &src = ctx.in[0], &indices = ctx.in[1], &out = ctx.out[0];
  const int64_t rows = out.shape[0], width = rows ? out.shape.numel() / rows : 0;
  FROST_LAUNCH(cuda::scatter_add_rows_f32(ptr<const float>(src), indices.data, indices.dtype == DType::I64,
                                          ptr<float>(out), indices.shape.numel(), rows, width,
                                          int(ctx.node_id), cuda_error_slot(), cuda_stream()));
}

// ---- reductions
// --------------------------------------------------------------------------------------------------

// The input's dims split into kept ones (walked per output element) and reduced ones.
struct ReduceWalks {
  Indexer kept, reduced;
};
ReduceWalks reduce_walks(const Shape& in, const std::vector<int64_t>& axes) {
  ReduceWalks w;
  const auto strides = contiguous_strides(in);
  size_t next = 0;
  for (int d = 0; d < in.rank(); ++d) {
    Indexer& ix = next < axes.size() && axes[next] == d ? (++next, w.reduced) : w.kept;
    ix.size[ix.rank] = in[d];
    ix.stride[0][ix.rank++] = strides[size_t(d)];
  }
  return w;
}

template <cuda::Reduce Op>
void reduce(const KernelContext& ctx) {
  const ReduceWalks w = reduce_walks(ctx.in[0].shape, ctx.node->attrs.axes);
  FROST_LAUNCH(cuda::reduce_f32(Op, ptr<const float>(ctx.in[0]), ptr<float>(ctx.out[0]), w.kept, w.reduced,
                                cuda_stream()));
}

void max_backward(const KernelContext& ctx) {
  const ReduceWalks w = reduce_walks(ctx.in[1].shape, ctx.node->attrs.axes);
  FROST_LAUNCH(cuda::max_backward_f32(ptr<const float>(ctx.in[0]), ptr<const float>(ctx.in[1]),
                                      ptr<const float>(ctx.in[2]), ptr<float>(ctx.out[0]), w.kept, w.reduced,
                                      cuda_stream()));
}

// ---- row ops
// -------------------------------------------------------------------------------------------------------

template <bool Log>
void softmax(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::softmax_f32(ptr<const float>(ctx.in[0]), ptr<float>(ctx.out[0]),
                                 rows_of(ctx.in[0].shape), last_dim(ctx.in[0].shape), Log, cuda_stream()));
}

template <bool Log>
void softmax_backward(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::softmax_backward_f32(ptr<const float>(ctx.in[0]), ptr<const float>(ctx.in[1]),
                                          ptr<float>(ctx.out[0]), rows_of(ctx.in[1].shape),
                                          last_dim(ctx.in[1].shape), Log, cuda_stream()));
}

void layer_norm(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::layer_norm_f32(
      ptr<const float>(ctx.in[0]), nullptr, nullptr, ptr<const float>(ctx.in[1]), ptr<const float>(ctx.in[2]),
      ptr<float>(ctx.out[0]), ptr<float>(ctx.out[1]), ptr<float>(ctx.out[2]), rows_of(ctx.in[0].shape),
      last_dim(ctx.in[0].shape), ctx.node->attrs.scalar, cuda_stream()));
}

void add_layer_norm(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::layer_norm_f32(ptr<const float>(ctx.in[0]), ptr<const float>(ctx.in[1]),
                                    ptr<float>(ctx.out[0]), ptr<const float>(ctx.in[2]),
                                    ptr<const float>(ctx.in[3]), ptr<float>(ctx.out[1]),
                                    ptr<float>(ctx.out[2]), ptr<float>(ctx.out[3]), rows_of(ctx.in[0].shape),
                                    last_dim(ctx.in[0].shape), ctx.node->attrs.scalar, cuda_stream()));
}

void layer_norm_backward(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::layer_norm_backward_f32(
      ptr<const float>(ctx.in[0]), ptr<const float>(ctx.in[1]), ptr<const float>(ctx.in[2]),
      ptr<const float>(ctx.in[3]), ptr<const float>(ctx.in[4]), ptr<float>(ctx.out[0]),
      ptr<float>(ctx.out[1]), ptr<float>(ctx.out[2]), rows_of(ctx.in[1].shape), last_dim(ctx.in[1].shape),
      cuda_stream()));
}

void l2_normalize(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::l2_normalize_f32(ptr<const float>(ctx.in[0]), ptr<float>(ctx.out[0]),
                                      rows_of(ctx.in[0].shape), last_dim(ctx.in[0].shape),
                                      ctx.node->attrs.scalar, cuda_stream()));
}

void l2_normalize_backward(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::l2_normalize_backward_f32(
      ptr<const float>(ctx.in[0]), ptr<const float>(ctx.in[1]), ptr<float>(ctx.out[0]),
      rows_of(ctx.in[1].shape), last_dim(ctx.in[1].shape), ctx.node->attrs.scalar, cuda_stream()));
}

void cross_entropy(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::softmax_cross_entropy_f32(
      ptr<const float>(ctx.in[0]), ctx.in[1].data, ctx.in[1].dtype == DType::I64, ptr<float>(ctx.out[0]),
      ctx.in[0].shape[0], ctx.in[0].shape[1], int(ctx.node_id), cuda_error_slot(), cuda_stream()));
}

void cross_entropy_backward(const KernelContext& ctx) {
  FROST_LAUNCH(cuda::softmax_cross_entropy_backward_f32(
      ptr<const float>(ctx.in[0]), ptr<const float>(ctx.in[1]), ctx.in[2].data, ctx.in[2].dtype == DType::I64,
      ptr<float>(ctx.out[0]), ctx.in[1].shape[0], ctx.in[1].shape[1], int(ctx.node_id), cuda_error_slot(),
      cuda_stream()));
}

// ---- matrix products: the plain kernel (cuBLAS is ops/cuda/blas.cpp)
// -------------------------------------------------

// Per-batch element offsets of A and B for the output's batch dims (broadcast).
Indexer batch_walk(const Shape& a, const Shape& b, const Shape& out) {
  const Shape batch(std::span<const int64_t>(out.begin(), size_t(out.rank() - 2)));
  auto strides_of = [&](const Shape& operand) {
    const Shape own(std::span<const int64_t>(operand.begin(), size_t(operand.rank() - 2)));
    auto s = broadcast_strides(own, batch);
    for (int d = 0; d < batch.rank(); ++d) s[size_t(d)] *= operand[-1] * operand[-2];
    return s;
  };
  return walk(batch, {strides_of(a), strides_of(b)});
}

void matmul_plain(const KernelContext& ctx) {
  const TensorView &a = ctx.in[0], &b = ctx.in[1], &out = ctx.out[0];
  const bool ta = ctx.node->attrs.trans_a, tb = ctx.node->attrs.trans_b;
  FROST_LAUNCH(cuda::matmul_plain_f32(ptr<const float>(a), ptr<const float>(b), ptr<float>(out),
                                      out.shape[-2], out.shape[-1], ta ? a.shape[-2] : a.shape[-1], ta, tb,
                                      batch_walk(a.shape, b.shape, out.shape), cuda_stream()));
}

void linear_plain(const KernelContext& ctx) {
  const TensorView &x = ctx.in[0], &w = ctx.in[1], &out = ctx.out[0];
  const int64_t N = out.shape[-1], K = x.shape[-1], M = N ? out.shape.numel() / N : 0;
  FROST_LAUNCH(cuda::matmul_plain_f32(ptr<const float>(x), ptr<const float>(w), ptr<float>(out), M, N, K,
                                      false, ctx.node->attrs.trans_b, Indexer{}, cuda_stream()));
  FROST_LAUNCH(cuda::bias_activation_f32(ptr<float>(out), ptr<const float>(ctx.in[2]), M, N,
                                         int(ctx.node->attrs.activation), cuda_stream()));
}

// ---- attention
// -----------------------------------------------------------------------------------------------------

// Device memory owned by a kernel's prepared state (freed with it).
struct DeviceArray {
  int64_t* data = nullptr;
  DeviceArray() = default;
  void upload(const std::vector<int64_t>& host) {
    FROST_CHECK(data == nullptr, Internal, "DeviceArray uploaded twice");
    if (host.empty()) return;
    FROST_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data), host.size() * sizeof(int64_t)));
    FROST_CUDA_CHECK(cudaMemcpy(data, host.data(), host.size() * sizeof(int64_t), cudaMemcpyHostToDevice));
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (data != nullptr) cudaFree(data);
  }
};

// What the attention kernels need beyond the buffers, made once at compile time: the geometry and, per
// batch tuple, each operand's element offset; for the backward, the prefix slots' tuple lists.
struct AttentionPrep {
  AttentionGeometry g;
  DeviceArray q, k, v, pk, pv, mask;
  DeviceArray k_begin, k_tuples, k_offset, v_begin, v_tuples, v_offset;
  int64_t k_slots = 0, v_slots = 0;
};

std::vector<int64_t> tuple_offsets(const StridedOperand& o, const Shape& batch, int64_t tuples) {
  std::vector<int64_t> off(static_cast<size_t>(tuples));
  for (int64_t t = 0; t < tuples; ++t) off[size_t(t)] = batch_offset(o, batch, t);
  return off;
}

// Groups the tuples by where their prefix gradient lands (CSR: begin, tuples; and each slot's offset).
int64_t prefix_slots(const StridedOperand& grad, const Shape& batch, int64_t tuples, DeviceArray& begin,
                     DeviceArray& list, DeviceArray& offset) {
  std::vector<std::pair<int64_t, int64_t>> by_offset;  // (offset, tuple), sorted: tuples in order per slot
  for (int64_t t = 0; t < tuples; ++t) by_offset.emplace_back(batch_offset(grad, batch, t), t);
  std::sort(by_offset.begin(), by_offset.end());
  std::vector<int64_t> b, l, o;
  for (size_t u = 0; u < by_offset.size(); ++u) {
    if (u == 0 || by_offset[u].first != by_offset[u - 1].first) {
      b.push_back(int64_t(u));
      o.push_back(by_offset[u].first);
    }
    l.push_back(by_offset[u].second);
  }
  b.push_back(int64_t(by_offset.size()));
  begin.upload(b);
  list.upload(l);
  offset.upload(o);
  return int64_t(o.size());
}

std::shared_ptr<AttentionPrep> make_attention_prep(const Graph& graph, const Node& node, bool backward) {
  auto p = std::make_shared<AttentionPrep>();
  p->g = attention_geometry(graph, node);
  const AttentionGeometry& g = p->g;
  const int64_t T = g.tuples();
  p->q.upload(tuple_offsets(g.q, g.batch, T));
  p->k.upload(tuple_offsets(g.k, g.batch, T));
  p->v.upload(tuple_offsets(g.v, g.batch, T));
  if (g.has_prefix) {
    p->pk.upload(tuple_offsets(g.pk, g.batch, T));
    p->pv.upload(tuple_offsets(g.pv, g.batch, T));
    if (backward) {
      p->k_slots = prefix_slots(g.pk_grad, g.batch, T, p->k_begin, p->k_tuples, p->k_offset);
      p->v_slots = prefix_slots(g.pv_grad, g.batch, T, p->v_begin, p->v_tuples, p->v_offset);
    }
  }
  if (g.has_mask) {
    std::vector<int64_t> off(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) off[size_t(t)] = mask_batch_offset(g, t);
    p->mask.upload(off);
  }
  return p;
}

KernelPrep prepare_attention(const Graph& graph, const Node& node) {
  return {make_attention_prep(graph, node, false), 0};
}
KernelPrep prepare_attention_backward(const Graph& graph, const Node& node) {
  auto p = make_attention_prep(graph, node, true);
  const size_t ws = size_t(2 * p->g.tuples() * p->g.Lq * p->g.columns()) * sizeof(float);
  return {p, ws};
}

cuda::AttentionOperand operand(const TensorView& in, const StridedOperand& o, const DeviceArray& offsets) {
  return {ptr<const float>(in), offsets.data, o.strides[o.strides.size() - 2], o.strides.back()};
}

// `first`: the forward node's input 0 in ctx.in (1 for the backward, whose input 0 is dout).
cuda::AttentionArgs attention_args(const KernelContext& ctx, const AttentionPrep& p, int first) {
  const AttentionGeometry& g = p.g;
  const Attrs& attrs = ctx.node->attrs;
  cuda::AttentionArgs a;
  a.q = operand(ctx.in[first + g.q_in], g.q, p.q);
  a.k = operand(ctx.in[first + g.k_in], g.k, p.k);
  a.v = operand(ctx.in[first + g.v_in], g.v, p.v);
  if (g.has_prefix) {
    a.pk = operand(ctx.in[first + g.pk_in], g.pk, p.pk);
    a.pv = operand(ctx.in[first + g.pv_in], g.pv, p.pv);
  }
  a.tuples = g.tuples();
  a.Lq = g.Lq;
  a.Lk = g.Lk;
  a.P = g.P;
  a.D = g.D;
  a.Dv = g.Dv;
  a.scale = attrs.scalar;
  if (g.has_mask) {
    const TensorView& mask = ctx.in[first + g.mask_in];
    a.mask_kind = mask.dtype == DType::U8 ? 2 : 1;
    a.mask = mask.data;
    a.mask_tuple_offset = p.mask.data;
    a.mask_row_stride = g.mask_strides[g.mask_strides.size() - 2];
    a.mask_col_stride = g.mask_strides.back();
    a.fill = attrs.fill;
    a.fill_where_zero = attrs.fill_where_zero;
  }
  if (attrs.dropout > 0) {
    a.dropout = attrs.dropout;
    a.seed = attrs.seed;
    a.dropout_offset = ptr<const int64_t>(ctx.in[first + g.offset_in]);
  }
  return a;
}

void attention(const KernelContext& ctx) {
  const auto& p = *static_cast<const AttentionPrep*>(ctx.state);
  FROST_LAUNCH(cuda::attention_forward_f32(attention_args(ctx, p, 0), ptr<float>(ctx.out[0]),
                                           ptr<float>(ctx.out[1]), cuda_stream()));
}

void attention_backward(const KernelContext& ctx) {
  const auto& p = *static_cast<const AttentionPrep*>(ctx.state);
  const int n = attention_num_inputs(ctx.node->attrs);
  const cuda::PrefixSlots k_slots{p.k_slots, p.k_begin.data, p.k_tuples.data, p.k_offset.data};
  const cuda::PrefixSlots v_slots{p.v_slots, p.v_begin.data, p.v_tuples.data, p.v_offset.data};
  const bool prefix = p.g.has_prefix;
  FROST_LAUNCH(cuda::attention_backward_f32(
      attention_args(ctx, p, 1), ptr<const float>(ctx.in[0]), ptr<const float>(ctx.in[1 + n]),
      ptr<const float>(ctx.in[2 + n]), ptr<float>(ctx.out[0]), ptr<float>(ctx.out[1]), ptr<float>(ctx.out[2]),
      prefix ? ptr<float>(ctx.out[3]) : nullptr, prefix ? ptr<float>(ctx.out[4]) : nullptr, k_slots, v_slots,
      static_cast<float*>(ctx.workspace), cuda_stream()));
}

}  // namespace

void register_cuda_kernels(KernelRegistry& r) {
  auto f32 = [&r](OpKind kind, const char* name, void (*fn)(const KernelContext&)) {
    r.add(kind, BackendKind::Cuda, DType::F32, {name, fn});
  };
  auto every_dtype = [&r](OpKind kind, const char* name, void (*fn)(const KernelContext&)) {
    for (int i = 0; i < kNumDTypes; ++i) r.add(kind, BackendKind::Cuda, DType(i), {name, fn});
  };
  every_dtype(OpKind::Fill, "cuda.fill", fill);
  every_dtype(OpKind::Assign, "cuda.assign", assign);
  f32(OpKind::AdamW, "cuda.adamw", adamw);
  f32(OpKind::Add, "cuda.add", binary<cuda::Binary::Add>);
  f32(OpKind::Sub, "cuda.sub", binary<cuda::Binary::Sub>);
  f32(OpKind::Mul, "cuda.mul", binary<cuda::Binary::Mul>);
  f32(OpKind::Div, "cuda.div", binary<cuda::Binary::Div>);
  f32(OpKind::Where, "cuda.where", where);
  f32(OpKind::Scale, "cuda.scale", scale);
  f32(OpKind::Neg, "cuda.neg", unary<cuda::Unary::Neg>);
  f32(OpKind::Exp, "cuda.exp", unary<cuda::Unary::Exp>);
  f32(OpKind::Log, "cuda.log", unary<cuda::Unary::Log>);
  f32(OpKind::Sqrt, "cuda.sqrt", unary<cuda::Unary::Sqrt>);
  f32(OpKind::Rsqrt, "cuda.rsqrt", unary<cuda::Unary::Rsqrt>);
  f32(OpKind::Tanh, "cuda.tanh", unary<cuda::Unary::Tanh>);
  f32(OpKind::Relu, "cuda.relu", unary<cuda::Unary::Relu>);
  f32(OpKind::ReluGrad, "cuda.relu_grad", derivative<cuda::Derivative::Relu>);
  f32(OpKind::Gelu, "cuda.gelu", unary<cuda::Unary::Gelu>);
  f32(OpKind::GeluTanh, "cuda.gelu_tanh", unary<cuda::Unary::GeluTanh>);
  f32(OpKind::GeluBackward, "cuda.gelu_backward", derivative<cuda::Derivative::Gelu>);
  f32(OpKind::GeluTanhBackward, "cuda.gelu_tanh_backward", derivative<cuda::Derivative::GeluTanh>);
  for (DType dt : {DType::F32, DType::F16, DType::BF16, DType::F64})
    r.add(OpKind::Cast, BackendKind::Cuda, dt, {"cuda.cast", cast});
  f32(OpKind::Dropout, "cuda.dropout", dropout);
  // cuBLAS (ops/cuda/blas.cpp) registers first and is preferred; these are the plain kernels beneath it.
  f32(OpKind::MatMul, "cuda.matmul_plain", matmul_plain);
  f32(OpKind::Linear, "cuda.linear_plain", linear_plain);
  f32(OpKind::Softmax, "cuda.softmax", softmax<false>);
  f32(OpKind::LogSoftmax, "cuda.log_softmax", softmax<true>);
  f32(OpKind::SoftmaxBackward, "cuda.softmax_backward", softmax_backward<false>);
  f32(OpKind::LogSoftmaxBackward, "cuda.log_softmax_backward", softmax_backward<true>);
  f32(OpKind::LayerNorm, "cuda.layer_norm", layer_norm);
  f32(OpKind::LayerNormBackward, "cuda.layer_norm_backward", layer_norm_backward);
  f32(OpKind::AddLayerNorm, "cuda.add_layer_norm", add_layer_norm);
  r.add(OpKind::Attention, BackendKind::Cuda, DType::F32,
        {"cuda.attention", attention, nullptr, prepare_attention});
  r.add(OpKind::AttentionBackward, BackendKind::Cuda, DType::F32,
        {"cuda.attention_backward", attention_backward, nullptr, prepare_attention_backward});
  f32(OpKind::L2Normalize, "cuda.l2_normalize", l2_normalize);
  f32(OpKind::L2NormalizeBackward, "cuda.l2_normalize_backward", l2_normalize_backward);
  f32(OpKind::SoftmaxCrossEntropy, "cuda.softmax_cross_entropy", cross_entropy);
  f32(OpKind::SoftmaxCrossEntropyBackward, "cuda.softmax_cross_entropy_backward", cross_entropy_backward);
  f32(OpKind::Sum, "cuda.sum", reduce<cuda::Reduce::Sum>);
  f32(OpKind::Mean, "cuda.mean", reduce<cuda::Reduce::Mean>);
  f32(OpKind::Max, "cuda.max", reduce<cuda::Reduce::Max>);
  f32(OpKind::MaxBackward, "cuda.max_backward", max_backward);
  every_dtype(OpKind::Permute, "cuda.permute", permute);
  every_dtype(OpKind::Contiguous, "cuda.contiguous", contiguous);
  every_dtype(OpKind::Expand, "cuda.expand", expand);
  every_dtype(OpKind::Slice, "cuda.slice", slice);
  every_dtype(OpKind::SliceBackward, "cuda.slice_backward", slice_backward);
  every_dtype(OpKind::Concat, "cuda.concat", concat);
  every_dtype(OpKind::Repeat, "cuda.repeat", repeat);
  every_dtype(OpKind::RepeatInterleave, "cuda.repeat_interleave", repeat_interleave);
  every_dtype(OpKind::Diagonal, "cuda.diagonal", diagonal);
  every_dtype(OpKind::DiagEmbed, "cuda.diag_embed", diag_embed);
  f32(OpKind::GatherRows, "cuda.gather_rows", gather_rows);
  f32(OpKind::ScatterAddRows, "cuda.scatter_add_rows", scatter_add_rows);
}

}  // namespace frost::ops
