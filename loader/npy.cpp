#include "loader/npy.h"

#include <cstdint>

#include "engine/error.h"
#include "loader/files.h"

namespace frost::loader {

std::string npy_descr(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "<f4";
    case DType::F64:
      return "<f8";
    case DType::F16:
      return "<f2";
    case DType::I64:
      return "<i8";
    case DType::I32:
      return "<i4";
    case DType::U8:
      return "|u1";
    default:
      break;
  }
  FROST_FAIL(InvalidArgument, ".npy: dtype " << dtype << " is not written");
}

void write_npy(const std::string& path, const HostTensor& t) {
  std::string shape = "(";
  for (int64_t d = 0; d < t.shape().rank(); ++d) shape += std::to_string(t.shape()[d]) + ", ";
  if (t.shape().rank() > 1) shape.resize(shape.size() - 2);  // (3, 4)
  if (t.shape().rank() == 1) shape.pop_back();               // (3,): a one-tuple keeps its comma
  shape += ")";
  std::string header =
      "{'descr': '" + npy_descr(t.dtype()) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic (6) + version (2) + header length (2) + header, ending in '\n', a multiple of 64 in all.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  FROST_CHECK(header.size() <= 65535, InvalidArgument, path << ": .npy header too long for version 1.0");
  std::string head = "\x93NUMPY";
  head += char(1);
  head += char(0);
  head += char(header.size() & 0xff);
  head += char(header.size() >> 8);
  head += header;
  AtomicFile f(path);
  f.write(head.data(), head.size());
  f.write(t.raw(), t.bytes());
  f.commit();
}

}  // namespace frost::loader
