// frost's one error type (DESIGN principle 9: fail loudly, never abort on user input).
//
//   FROST_CHECK(a.rank() == 2, InvalidArgument, "matmul: expected a matrix, got " << a);
//   FROST_FAIL(Unsupported, "no kernel for op '" << name << "'");
//
// Every error is a frost::Error with a category; the message names the op or tensor, the node and the
// shapes. Internal errors (broken invariants, not user mistakes) also carry file and line.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace frost {

enum class ErrorCategory {
  InvalidArgument,  // the caller passed something wrong: shapes, names, values
  BadFile,          // a file is malformed, truncated or not what it claims
  Unsupported,      // valid request that this build cannot serve (dtype, backend, kernel)
  Io,               // the operating system failed a read or write of a valid request (disk full, permissions)
  Numerical,        // a computation produced non-finite values: training diverged
  Internal,         // a broken invariant inside frost: a bug
};

const char* error_category_name(ErrorCategory category);

class Error : public std::runtime_error {
 public:
  Error(ErrorCategory category, const std::string& message);
  ErrorCategory category() const { return category_; }

 private:
  ErrorCategory category_;
};

[[noreturn]] void throw_error(ErrorCategory category, const std::string& message, const char* file = nullptr,
                              int line = 0);

}  // namespace frost

// Builds the message with operator<< so shapes and dtypes print naturally.
#define FROST_FAIL(category, stream_expr)                                                             \
  do {                                                                                                \
    std::ostringstream frost_fail_os_;                                                                \
    frost_fail_os_ << stream_expr;                                                                    \
    ::frost::throw_error(::frost::ErrorCategory::category, frost_fail_os_.str(), __FILE__, __LINE__); \
  } while (0)

#define FROST_CHECK(cond, category, stream_expr)    \
  do {                                              \
    if (!(cond)) FROST_FAIL(category, stream_expr); \
  } while (0)
