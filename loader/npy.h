// NumPy's .npy format (version 1.0, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// what `np.load` reads. Written by frost for embeddings a user takes into Python without safetensors.
//
//   write_npy("t.npy", embeddings);   // F32 (N, P) → '<f4', C order, shape (N, P); atomic
#pragma once

#include <string>

#include "engine/storage.h"

namespace frost::loader {

// The 'descr' of a dtype: '<f4', '<f8', '<i8', '<i4', '|u1', '<f2'. Throws InvalidArgument for others.
std::string npy_descr(DType dtype);

// Writes `t` (any rank, one of the dtypes above, little-endian as held) as .npy v1.0, the header padded so
// the data starts at a multiple of 64 bytes; atomically (temporary file, fsync, rename). Throws Io on a
// failed write.
void write_npy(const std::string& path, const HostTensor& t);

}  // namespace frost::loader
