#include "ops/api.h"

#include <algorithm>
#include <initializer_list>

#include "engine/error.h"

namespace frost {
namespace {

std::vector<Tensor> make_all(OpKind kind, const std::vector<Tensor>& inputs, Attrs attrs = {}) {
  ops::register_all();
  Graph* g = nullptr;
  std::vector<ValueId> ids;
  for (const Tensor& t : inputs) {
    FROST_CHECK(t.valid(), InvalidArgument,
                op_name(kind) << ": input " << ids.size() << " is an empty Tensor");
    FROST_CHECK(g == nullptr || t.graph == g, InvalidArgument,
                op_name(kind) << ": inputs belong to different graphs");
    g = t.graph;
    ids.push_back(t.id);
  }
  FROST_CHECK(g != nullptr, InvalidArgument, op_name(kind) << ": no inputs");
  std::vector<ValueId> outs = g->add_node(kind, std::move(ids), std::move(attrs));
  std::vector<Tensor> result;
  for (ValueId v : outs) result.push_back(Tensor{g, v});
  return result;
}

Tensor make(OpKind kind, std::initializer_list<Tensor> inputs, Attrs attrs = {}) {
  std::vector<Tensor> outs = make_all(kind, std::vector<Tensor>(inputs), std::move(attrs));
  return outs.empty() ? Tensor{} : outs[0];
}

int64_t normalize_axis(const char* op, const Shape& shape, int64_t axis) {
  FROST_CHECK(axis >= -shape.rank() && axis < shape.rank(), InvalidArgument,
              op << ": axis " << axis << " is out of range for shape " << shape);
  return axis < 0 ? axis + shape.rank() : axis;
}

// Normalises negative axes and sorts; empty means every axis. Throws naming the op and shape.
std::vector<int64_t> normalize_axes(const char* op, const Shape& shape, std::vector<int64_t> axes) {
  if (axes.empty()) {
    for (int i = 0; i < shape.rank(); ++i) axes.push_back(i);
    return axes;
  }
  for (int64_t& a : axes) {
    FROST_CHECK(a >= -shape.rank() && a < shape.rank(), InvalidArgument,
                op << ": axis " << a << " is out of range for shape " << shape);
    if (a < 0) a += shape.rank();
  }
  std::sort(axes.begin(), axes.end());
  FROST_CHECK(std::adjacent_find(axes.begin(), axes.end()) == axes.end(), InvalidArgument,
              op << ": repeated axis for shape " << shape);
  return axes;
}

Attrs reduce_attrs(const char* op, Tensor x, std::vector<int64_t> axes, bool keepdim) {
  Attrs a;
  a.axes = normalize_axes(op, x.shape(), std::move(axes));
  a.keepdim = keepdim;
  return a;
}

}  // namespace

Tensor fill(Graph& g, Shape shape, DType dtype, double value) {
  ops::register_all();
  Attrs a;
  a.shape = shape;
  a.dtype = dtype;
  a.scalar = value;
  return Tensor{&g, g.add_node(OpKind::Fill, {}, a)[0]};
}
Tensor zeros_like(Tensor x) {
  return fill(*x.graph, x.shape(), x.dtype(), 0.0);
}
void assign(Tensor state, Tensor value) {
  make(OpKind::Assign, {state, value});
}
void adamw_update(Tensor param, Tensor grad, Tensor m, Tensor v, Tensor coeffs) {
  make(OpKind::AdamW, {param, grad, m, v, coeffs});
}

Tensor add(Tensor a, Tensor b) {
  return make(OpKind::Add, {a, b});
}
Tensor sub(Tensor a, Tensor b) {
  return make(OpKind::Sub, {a, b});
}
Tensor mul(Tensor a, Tensor b) {
  return make(OpKind::Mul, {a, b});
}
Tensor div(Tensor a, Tensor b) {
  return make(OpKind::Div, {a, b});
}
Tensor scale(Tensor x, double factor) {
  Attrs a;
  a.scalar = factor;
  return make(OpKind::Scale, {x}, a);
}
Tensor where(Tensor cond, Tensor a, Tensor b) {
  return make(OpKind::Where, {cond, a, b});
}
Tensor masked_fill(Tensor x, Tensor mask, double value) {
  FROST_CHECK(x.valid(), InvalidArgument, "masked_fill: empty Tensor");
  return where(mask, fill(*x.graph, {}, x.dtype(), value), x);
}
Tensor neg(Tensor x) {
  return make(OpKind::Neg, {x});
}
Tensor exp(Tensor x) {
  return make(OpKind::Exp, {x});
}
Tensor log(Tensor x) {
  return make(OpKind::Log, {x});
}
Tensor sqrt(Tensor x) {
  return make(OpKind::Sqrt, {x});
}
Tensor rsqrt(Tensor x) {
  return make(OpKind::Rsqrt, {x});
}
Tensor tanh(Tensor x) {
  return make(OpKind::Tanh, {x});
}
Tensor relu(Tensor x) {
  return make(OpKind::Relu, {x});
}
Tensor relu_grad(Tensor dy, Tensor x) {
  return make(OpKind::ReluGrad, {dy, x});
}
Tensor gelu(Tensor x) {
  return make(OpKind::Gelu, {x});
}
Tensor gelu_tanh(Tensor x) {
  return make(OpKind::GeluTanh, {x});
}
Tensor gelu_backward(Tensor dy, Tensor x) {
  return make(OpKind::GeluBackward, {dy, x});
}
Tensor gelu_tanh_backward(Tensor dy, Tensor x) {
  return make(OpKind::GeluTanhBackward, {dy, x});
}
Tensor cast(Tensor x, DType dtype) {
  Attrs a;
  a.dtype = dtype;
  return make(OpKind::Cast, {x}, a);
}
Tensor dropout(Tensor x, double p, uint64_t seed, Tensor offset, bool training) {
  FROST_CHECK(p >= 0.0 && p <= 1.0, InvalidArgument, "dropout: probability " << p << " is outside [0, 1]");
  if (!training || p == 0.0) return x;
  Attrs a;
  a.scalar = p;
  a.seed = seed;
  return make(OpKind::Dropout, {x, offset}, a);
}

Tensor matmul(Tensor a, Tensor b, bool trans_a, bool trans_b) {
  Attrs at;
  at.trans_a = trans_a;
  at.trans_b = trans_b;
  return make(OpKind::MatMul, {a, b}, at);
}

Tensor fused_linear(Tensor x, Tensor w, Tensor bias, bool trans_b, Activation activation) {
  Attrs at;
  at.trans_b = trans_b;
  at.activation = activation;
  return make(OpKind::Linear, {x, w, bias}, at);
}

Tensor softmax(Tensor x) {
  return make(OpKind::Softmax, {x});
}
Tensor log_softmax(Tensor x) {
  return make(OpKind::LogSoftmax, {x});
}
Tensor softmax_backward(Tensor dy, Tensor y) {
  return make(OpKind::SoftmaxBackward, {dy, y});
}
Tensor log_softmax_backward(Tensor dy, Tensor y) {
  return make(OpKind::LogSoftmaxBackward, {dy, y});
}

LayerNormResult layer_norm(Tensor x, Tensor weight, Tensor bias, double eps) {
  Attrs a;
  a.scalar = eps;
  std::vector<Tensor> o = make_all(OpKind::LayerNorm, {x, weight, bias}, a);
  return {o[0], o[1], o[2]};
}
AddLayerNormResult add_layer_norm(Tensor a, Tensor b, Tensor weight, Tensor bias, double eps) {
  Attrs at;
  at.scalar = eps;
  std::vector<Tensor> o = make_all(OpKind::AddLayerNorm, {a, b, weight, bias}, at);
  return {o[0], o[1], o[2], o[3]};  // sum, y, mean, rstd
}
std::vector<Tensor> layer_norm_backward(Tensor dy, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
                                        double eps) {
  Attrs a;
  a.scalar = eps;
  return make_all(OpKind::LayerNormBackward, {dy, x, weight, mean, rstd}, a);
}
AttentionResult fused_attention(Tensor q, Tensor k, Tensor v, double scale, Tensor prefix_k, Tensor prefix_v,
                                Tensor mask, double fill, bool fill_where_zero, double dropout, uint64_t seed,
                                Tensor offset) {
  FROST_CHECK(dropout <= 0 || offset.valid(), InvalidArgument,
              "fused_attention: dropout needs its stream offset (an I64 scalar value)");
  FROST_CHECK(prefix_k.valid() == prefix_v.valid(), InvalidArgument,
              "fused_attention: give both prefix keys and prefix values, or neither");
  Attrs a;
  a.scalar = scale;
  a.prefix = prefix_k.valid();
  a.masked = mask.valid();
  a.fill = fill;
  a.fill_where_zero = fill_where_zero;
  std::vector<Tensor> in = {q, k, v};
  if (a.prefix) {
    in.push_back(prefix_k);
    in.push_back(prefix_v);
  }
  if (a.masked) in.push_back(mask);
  if (dropout > 0) {
    a.dropout = dropout;
    a.seed = seed;
    in.push_back(offset);
  }
  std::vector<Tensor> o = make_all(OpKind::Attention, in, a);
  return {o[0], o[1]};
}
std::vector<Tensor> fused_attention_backward(Tensor dout, const std::vector<Tensor>& inputs, Tensor out,
                                             Tensor lse, const Attrs& attrs) {
  std::vector<Tensor> in = {dout};
  in.insert(in.end(), inputs.begin(), inputs.end());
  in.push_back(out);
  in.push_back(lse);
  return make_all(OpKind::AttentionBackward, in, attrs);
}
Tensor l2_normalize(Tensor x, double eps) {
  Attrs a;
  a.scalar = eps;
  return make(OpKind::L2Normalize, {x}, a);
}
Tensor l2_normalize_backward(Tensor dy, Tensor x, double eps) {
  Attrs a;
  a.scalar = eps;
  return make(OpKind::L2NormalizeBackward, {dy, x}, a);
}
Tensor softmax_cross_entropy(Tensor logits, Tensor target) {
  return make(OpKind::SoftmaxCrossEntropy, {logits, target});
}
Tensor softmax_cross_entropy_backward(Tensor dloss, Tensor logits, Tensor target) {
  return make(OpKind::SoftmaxCrossEntropyBackward, {dloss, logits, target});
}

Tensor sum(Tensor x, std::vector<int64_t> axes, bool keepdim) {
  return make(OpKind::Sum, {x}, reduce_attrs("sum", x, std::move(axes), keepdim));
}
Tensor mean(Tensor x, std::vector<int64_t> axes, bool keepdim) {
  return make(OpKind::Mean, {x}, reduce_attrs("mean", x, std::move(axes), keepdim));
}

Tensor max(Tensor x, std::vector<int64_t> axes, bool keepdim) {
  return make(OpKind::Max, {x}, reduce_attrs("max", x, std::move(axes), keepdim));
}
Tensor max_backward(Tensor dy, Tensor x, Tensor y, std::vector<int64_t> axes, bool keepdim) {
  return make(OpKind::MaxBackward, {dy, x, y}, reduce_attrs("max_backward", x, std::move(axes), keepdim));
}

Tensor sum_to(Tensor x, const Shape& shape) {
  const Shape from = x.shape();
  if (from == shape) return x;
  broadcast_shapes(shape, from);  // throws unless `shape` broadcasts to `from`
  FROST_CHECK(shape.rank() <= from.rank(), InvalidArgument,
              "sum_to: cannot reduce " << from << " to " << shape);
  std::vector<int64_t> axes;
  int lead = from.rank() - shape.rank();
  for (int i = 0; i < from.rank(); ++i)
    if (i < lead || (shape[i - lead] == 1 && from[i] != 1)) axes.push_back(i);
  Tensor s = axes.empty() ? x : sum(x, axes, true);
  return reshape(s, shape.to_vector());
}

Tensor reshape(Tensor x, std::vector<int64_t> shape) {
  FROST_CHECK(x.valid(), InvalidArgument, "reshape: empty Tensor");
  int infer_at = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      FROST_CHECK(infer_at < 0, InvalidArgument,
                  "reshape of " << x.shape() << ": more than one -1 in the target shape");
      infer_at = int(i);
    } else {
      FROST_CHECK(shape[i] >= 0, InvalidArgument,
                  "reshape of " << x.shape() << ": negative dimension " << shape[i]);
      known *= shape[i];
    }
  }
  if (infer_at >= 0) {
    FROST_CHECK(known != 0 && x.shape().numel() % known == 0, InvalidArgument,
                "reshape: cannot infer the -1 dimension to reshape " << x.shape() << " (" << x.shape().numel()
                                                                     << " elements)");
    shape[size_t(infer_at)] = x.shape().numel() / known;
  }
  Attrs a;
  a.shape = Shape::from_vector(shape);
  return make(OpKind::Reshape, {x}, a);
}

Tensor permute(Tensor x, std::vector<int64_t> perm) {
  FROST_CHECK(x.valid(), InvalidArgument, "permute: empty Tensor");
  for (int64_t& p : perm) {
    FROST_CHECK(p >= -x.rank() && p < x.rank(), InvalidArgument,
                "permute: axis " << p << " out of range for " << x.shape());
    if (p < 0) p += x.rank();
  }
  Attrs a;
  a.axes = std::move(perm);
  return make(OpKind::Permute, {x}, a);
}

Tensor transpose(Tensor x, int64_t dim0, int64_t dim1) {
  FROST_CHECK(x.valid(), InvalidArgument, "transpose: empty Tensor");
  std::vector<int64_t> perm;
  for (int i = 0; i < x.rank(); ++i) perm.push_back(i);
  int d0 = x.shape().normalize_axis(int(dim0)), d1 = x.shape().normalize_axis(int(dim1));
  std::swap(perm[size_t(d0)], perm[size_t(d1)]);
  return permute(x, perm);
}

Tensor contiguous(Tensor x) {
  return make(OpKind::Contiguous, {x});
}

Tensor expand(Tensor x, Shape shape) {
  Attrs a;
  a.shape = shape;
  return make(OpKind::Expand, {x}, a);
}

Tensor slice(Tensor x, int64_t axis, int64_t start, int64_t stop, int64_t step) {
  FROST_CHECK(x.valid(), InvalidArgument, "slice: empty Tensor");
  FROST_CHECK(step >= 1, InvalidArgument, "slice: step " << step << " must be at least 1");
  Attrs a;
  a.axis = normalize_axis("slice", x.shape(), axis);
  const int64_t n = x.shape()[int(a.axis)];
  // Python's clamping: negative indices count from the end, then clamp to [0, n].
  auto clamp = [n](int64_t i) { return std::clamp(i < 0 ? i + n : i, int64_t(0), n); };
  a.start = clamp(start);
  a.stop = std::max(a.start, clamp(stop));
  a.step = step;
  return make(OpKind::Slice, {x}, a);
}
Tensor slice_backward(Tensor dy, const Shape& input_shape, int64_t axis, int64_t start, int64_t step) {
  Attrs a;
  a.shape = input_shape;
  a.axis = axis;
  a.start = start;
  a.step = step;
  return make(OpKind::SliceBackward, {dy}, a);
}
Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  FROST_CHECK(!xs.empty() && xs[0].valid(), InvalidArgument, "concat: no inputs");
  Attrs a;
  a.axis = normalize_axis("concat", xs[0].shape(), axis);
  return make_all(OpKind::Concat, xs, a)[0];
}
Tensor repeat(Tensor x, std::vector<int64_t> repeats) {
  Attrs a;
  a.shape = Shape::from_vector(repeats);
  return make(OpKind::Repeat, {x}, a);
}
Tensor repeat_interleave(Tensor x, int64_t count, int64_t axis) {
  FROST_CHECK(x.valid(), InvalidArgument, "repeat_interleave: empty Tensor");
  FROST_CHECK(count >= 0, InvalidArgument, "repeat_interleave: negative count " << count);
  Attrs a;
  a.axis = normalize_axis("repeat_interleave", x.shape(), axis);
  a.count = count;
  return make(OpKind::RepeatInterleave, {x}, a);
}
Tensor diagonal(Tensor x) {
  return make(OpKind::Diagonal, {x});
}
Tensor diag_embed(Tensor diag, const Shape& shape) {
  Attrs a;
  a.shape = shape;
  return make(OpKind::DiagEmbed, {diag}, a);
}
Tensor gather_rows(Tensor table, Tensor indices) {
  return make(OpKind::GatherRows, {table, indices});
}
Tensor scatter_add_rows(Tensor src, Tensor indices, const Shape& table_shape) {
  Attrs a;
  a.shape = table_shape;
  return make(OpKind::ScatterAddRows, {src, indices}, a);
}

// Legend: B batch, C channels, H x W image, P patch size, D embedding width, Y = H / P, X = W / P.
Tensor conv2d_patch(Tensor x, Tensor weight, Tensor bias) {
  FROST_CHECK(x.valid() && weight.valid() && bias.valid(), InvalidArgument, "conv2d_patch: empty Tensor");
  const Shape xs = x.shape(), ws = weight.shape();
  FROST_CHECK(
      xs.rank() == 4 && ws.rank() == 4 && ws[2] == ws[3] && ws[1] == xs[1], InvalidArgument,
      "conv2d_patch: needs x (B, C, H, W) and a square weight (D, C, P, P), got " << xs << " and " << ws);
  const int64_t B = xs[0], C = xs[1], H = xs[2], W = xs[3], D = ws[0], P = ws[2];
  FROST_CHECK(
      P > 0 && H % P == 0 && W % P == 0, InvalidArgument,
      "conv2d_patch: image " << H << "x" << W << " is not a whole number of " << P << "x" << P << " patches");
  const int64_t Y = H / P, X = W / P;
  Tensor patches = permute(reshape(x, {B, C, Y, P, X, P}), {0, 2, 4, 1, 3, 5});    // (B, Y, X, C, P, P)
  Tensor rows = reshape(patches, {B * Y * X, C * P * P});                          // (B*Y*X, C*P*P)
  Tensor out = matmul(rows, reshape(weight, {D, C * P * P}), false, true) + bias;  // (B*Y*X, D)
  return permute(reshape(out, {B, Y, X, D}), {0, 3, 1, 2});                        // (B, D, Y, X)
}

}  // namespace frost
