// What the rest of frost may know about the oneDNN adapter (ops/cpu/onednn.cpp), which is compiled only
// with FROST_ONEDNN.
//
//   if (ops::onednn_executing()) ...   // true while this thread is inside a oneDNN primitive execution
#pragma once

namespace frost::ops {

#ifdef FROST_HAVE_ONEDNN
// oneDNN 2.6 builds a small argument map on the heap inside every primitive execution, which frost cannot
// avoid; the no-allocation test uses this to tell those allocations from frost's own (docs/decisions.md).
bool onednn_executing();
#else
inline bool onednn_executing() {
  return false;
}
#endif

}  // namespace frost::ops
