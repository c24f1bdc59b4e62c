// Rows for the indexing ops: diagonal and diag_embed (each other's backward), gather_rows (embedding
// lookup) and scatter_add_rows (its backward, which sums the rows of repeated indices).
#include "engine/autodiff.h"
#include "ops/api.h"
#include "ops/defs/common.h"
#include "ops/registration.h"

namespace frost::ops {
namespace {

std::vector<TensorType> infer_diagonal(const InferContext& ctx) {
  const Shape& in = ctx.inputs[0].shape;
  FROST_CHECK(in.rank() >= 2, InvalidArgument, "needs at least 2 dimensions, got " << in);
  Shape out(std::span<const int64_t>(in.begin(), size_t(in.rank() - 2)));
  out.push_back(std::min(in[-2], in[-1]));
  return {{ctx.inputs[0].dtype, out}};
}

std::vector<TensorType> infer_diag_embed(const InferContext& ctx) {
  const Shape& diag = ctx.inputs[0].shape;
  const Shape& full = ctx.attrs.shape;
  FROST_CHECK(full.rank() >= 2 && diag.rank() == full.rank() - 1, InvalidArgument,
              "diagonal " << diag << " does not fit a matrix of shape " << full);
  for (int d = 0; d < diag.rank() - 1; ++d)
    FROST_CHECK(diag[d] == full[d], InvalidArgument,
                "leading dims of " << diag << " and " << full << " differ");
  FROST_CHECK(diag[-1] == std::min(full[-2], full[-1]), InvalidArgument,
              "diagonal length " << diag[-1] << " does not match " << full);
  return {{ctx.inputs[0].dtype, full}};
}

bool is_index_type(DType t) {
  return t == DType::I32 || t == DType::I64;
}

Shape gathered_shape(const Shape& indices, const Shape& table) {
  FROST_CHECK(indices.rank() + table.rank() - 1 <= kMaxRank, InvalidArgument,
              "indices " << indices << " into rows of " << table << " exceed rank " << kMaxRank);
  Shape out = indices;
  for (int d = 1; d < table.rank(); ++d) out.push_back(table[d]);
  return out;
}

std::vector<TensorType> infer_gather_rows(const InferContext& ctx) {
  require_floating(ctx, 0);
  FROST_CHECK(ctx.inputs[0].shape.rank() >= 1, InvalidArgument, "the table needs at least one dimension");
  FROST_CHECK(is_index_type(ctx.inputs[1].dtype), InvalidArgument,
              "indices are " << ctx.inputs[1].dtype << ", expected i32 or i64");
  return {{ctx.inputs[0].dtype, gathered_shape(ctx.inputs[1].shape, ctx.inputs[0].shape)}};
}

std::vector<TensorType> infer_scatter_add_rows(const InferContext& ctx) {
  require_floating(ctx, 0);
  FROST_CHECK(is_index_type(ctx.inputs[1].dtype), InvalidArgument,
              "indices are " << ctx.inputs[1].dtype << ", expected i32 or i64");
  const Shape& table = ctx.attrs.shape;
  FROST_CHECK(table.rank() >= 1, InvalidArgument, "the table shape needs at least one dimension");
  FROST_CHECK(ctx.inputs[0].shape == gathered_shape(ctx.inputs[1].shape, table), InvalidArgument,
              "source " << ctx.inputs[0].shape << " is not indices " << ctx.inputs[1].shape << " by rows of "
                        << table);
  return {{ctx.inputs[0].dtype, table}};
}

Cost cost_move(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs&) {
  return streaming_cost(in, out, 0);
}
Cost cost_scatter(std::span<const TensorType> in, std::span<const TensorType> out, const Attrs&) {
  Cost c = streaming_cost(in, out, 0);
  c.flops = double(in[0].shape.numel());
  return c;
}

void backward_diagonal(BackwardContext& c) {
  c.set_grad_input(0, diag_embed(c.grad_output(0), c.input(0).shape()));
}
void backward_diag_embed(BackwardContext& c) {
  c.set_grad_input(0, diagonal(c.grad_output(0)));
}
void backward_gather_rows(BackwardContext& c) {
  if (c.needs_grad(0))
    c.set_grad_input(0, scatter_add_rows(c.grad_output(0), c.input(1), c.input(0).shape()));
}
void backward_scatter_add_rows(BackwardContext& c) {
  if (c.needs_grad(0)) c.set_grad_input(0, gather_rows(c.grad_output(0), c.input(1)));
}

}  // namespace

void register_indexing_rows(OpRegistry& r) {
  r.set({.kind = OpKind::Diagonal,
         .name = "diagonal",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_diagonal,
         .backward = backward_diagonal,
         .cost = cost_move});
  r.set({.kind = OpKind::DiagEmbed,
         .name = "diag_embed",
         .num_inputs = 1,
         .num_outputs = 1,
         .infer = infer_diag_embed,
         .backward = backward_diag_embed,
         .cost = cost_move});
  r.set({.kind = OpKind::GatherRows,
         .name = "gather_rows",
         .num_inputs = 2,
         .num_outputs = 1,
         .infer = infer_gather_rows,
         .backward = backward_gather_rows,
         .cost = cost_move});
  r.set({.kind = OpKind::ScatterAddRows,
         .name = "scatter_add_rows",
         .num_inputs = 2,
         .num_outputs = 1,
         .infer = infer_scatter_add_rows,
         .backward = backward_scatter_add_rows,
         .cost = cost_scatter});
}

}  // namespace frost::ops
