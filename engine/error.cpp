#include "engine/error.h"

namespace frost {

const char* error_category_name(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::InvalidArgument:
      return "invalid argument";
    case ErrorCategory::BadFile:
      return "bad file";
    case ErrorCategory::Unsupported:
      return "unsupported";
    case ErrorCategory::Io:
      return "i/o error";
    case ErrorCategory::Numerical:
      return "numerical error";
    case ErrorCategory::Internal:
      return "internal error";
  }
  return "unknown";
}

namespace {
// what() is a C string: a NUL inside the message (from a file's text) would cut it short.
std::string without_nul(const std::string& message) {
  if (message.find('\0') == std::string::npos) return message;
  std::string out;
  for (char c : message) out += c == '\0' ? std::string("\\x00") : std::string(1, c);
  return out;
}
}  // namespace

Error::Error(ErrorCategory category, const std::string& message)
    : std::runtime_error(without_nul(message)), category_(category) {}

void throw_error(ErrorCategory category, const std::string& message, const char* file, int line) {
  if (category == ErrorCategory::Internal && file != nullptr) {
    throw Error(category, message + " [internal error at " + file + ":" + std::to_string(line) + "]");
  }
  throw Error(category, message);
}

}  // namespace frost
