#include "ops/api.h"

#include <algorithm>
#include <initializer_list>

#include "engine/error.h"

namespace frost {
namespace {

Tensor make(OpKind kind, std::initializer_list<Tensor> inputs, Attrs attrs = {}) {
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
  std::vector<ValueId> outs = g->add_node(kind, std::move(ids), std::move(attrs));
  return Tensor{g, outs.empty() ? kNoId : outs[0]};
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
Tensor ones_like(Tensor x) {
  return fill(*x.graph, x.shape(), x.dtype(), 1.0);
}
void assign(Tensor state, Tensor value) {
  make(OpKind::Assign, {state, value});
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
Tensor neg(Tensor x) {
  return scale(x, -1.0);
}
Tensor exp(Tensor x) {
  return make(OpKind::Exp, {x});
}
Tensor log(Tensor x) {
  return make(OpKind::Log, {x});
}
Tensor relu(Tensor x) {
  return make(OpKind::Relu, {x});
}
Tensor relu_grad(Tensor dy, Tensor x) {
  return make(OpKind::ReluGrad, {dy, x});
}

Tensor matmul(Tensor a, Tensor b, bool trans_a, bool trans_b) {
  Attrs at;
  at.trans_a = trans_a;
  at.trans_b = trans_b;
  return make(OpKind::MatMul, {a, b}, at);
}

Tensor softmax(Tensor x) {
  return make(OpKind::Softmax, {x});
}
Tensor log_softmax(Tensor x) {
  return make(OpKind::LogSoftmax, {x});
}

Tensor sum(Tensor x, std::vector<int64_t> axes, bool keepdim) {
  return make(OpKind::Sum, {x}, reduce_attrs("sum", x, std::move(axes), keepdim));
}
Tensor mean(Tensor x, std::vector<int64_t> axes, bool keepdim) {
  return make(OpKind::Mean, {x}, reduce_attrs("mean", x, std::move(axes), keepdim));
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

}  // namespace frost
