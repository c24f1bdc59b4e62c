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
    case ErrorCategory::Internal:
      return "internal error";
  }
  return "unknown";
}

Error::Error(ErrorCategory category, const std::string& message)
    : std::runtime_error(message), category_(category) {}

void throw_error(ErrorCategory category, const std::string& message, const char* file, int line) {
  if (category == ErrorCategory::Internal && file != nullptr) {
    throw Error(category, message + " [internal error at " + file + ":" + std::to_string(line) + "]");
  }
  throw Error(category, message);
}

}  // namespace frost
