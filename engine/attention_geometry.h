// The geometry of an attention node, shared by its row (inference), its kernels and the view-absorbing
// pass: logical shapes, where each operand's elements live in its input buffer, and how the prefix and the
// mask broadcast.
//
// Legend: batch = the leading dims (B, H[, G]) of q, Lq queries, Lk keys, P prefix keys (broadcast over
// the batch dims where their own dim is 1: the video model's CLS key in front of every group), D the q/k
// width, Dv the v width. The scores of one query row are [prefix keys, keys]: P + Lk columns.
//
// Operands q, k, v, prefix k, prefix v are read through strided maps. Without `attrs.views` each is its
// input as a contiguous tensor; with them (engine/passes/absorb_views.cpp) an operand may instead be a
// strided window of its input (the packed qkv projection read in place). `attrs.views` holds, per operand in
// input order, `rank` then `offset` then `rank` sizes then `rank` strides; rank 0 means "contiguous input".
#pragma once

#include <span>
#include <vector>

#include "engine/graph.h"

namespace frost {

struct StridedOperand {
  Shape shape;                   // logical shape
  std::vector<int64_t> strides;  // elements in the input buffer, one per logical dim (0: broadcast)
  int64_t offset = 0;            // element offset of logical index 0
  bool contiguous = true;        // strides are the row-major strides of `shape`, offset 0
};

struct AttentionGeometry {
  Shape batch;
  int64_t Lq = 0, Lk = 0, P = 0, D = 0, Dv = 0;
  bool has_prefix = false, has_mask = false;
  // Input indices (of the forward node; a backward node's are one higher, dout being input 0).
  int q_in = 0, k_in = 1, v_in = 2, pk_in = -1, pv_in = -1, mask_in = -1;
  int offset_in = -1;                 // the dropout stream offset (I64, one element) when attrs.dropout > 0
  StridedOperand q, k, v, pk, pv;     // pk/pv strides are 0 over the batch dims they broadcast on
  std::vector<int64_t> mask_strides;  // over batch + (Lq, P + Lk); 0 where the mask broadcasts
  // Where a prefix gradient (contiguous, the prefix's logical shape) of batch tuple t starts: its strides
  // are 0 over the batch dims the prefix broadcasts on, so those tuples sum into one slice.
  StridedOperand pk_grad, pv_grad;
  int64_t columns() const { return P + Lk; }
  int64_t tuples() const { return batch.numel(); }
};

// Inputs of the forward node's operands: 3, or 5 with a prefix; +1 with a mask; +1 with dropout.
int attention_num_inputs(const Attrs& attrs);
// From the input shapes of a forward node (backward: pass the shapes after dout, i.e. starting at q) and
// its attrs. Throws InvalidArgument with a reason on inconsistent shapes or views that leave their input.
AttentionGeometry attention_geometry(std::span<const Shape> inputs, const Attrs& attrs);

// The geometry of an attention or attention_backward node of a graph.
AttentionGeometry attention_geometry(const Graph& graph, const Node& node);

// Element offset of operand `o` at batch tuple `t` (flat over geometry.batch) row 0, column 0.
int64_t batch_offset(const StridedOperand& o, const Shape& batch, int64_t t);
// The mask's element offset at batch tuple t, query row 0, column 0; and at query row i.
int64_t mask_batch_offset(const AttentionGeometry& g, int64_t t);
int64_t mask_row_offset(const AttentionGeometry& g, int64_t t, int64_t i);
// A u8 mask (masked fill) replaces its score by attrs.fill where this is true.
inline bool mask_fills(uint8_t m, const Attrs& attrs) {
  return (m != 0) != attrs.fill_where_zero;
}

// Element (t, i, j) of the probabilities (batch..., Lq, P + Lk), flat: the dropout mask's index.
inline uint64_t probability_index(const AttentionGeometry& g, int64_t t, int64_t i, int64_t j) {
  return uint64_t((t * g.Lq + i) * g.columns() + j);
}

// Encodes one operand's strided view for attrs.views (rank, offset, sizes, strides).
void append_view(std::vector<int64_t>& views, const StridedOperand* o);

}  // namespace frost
