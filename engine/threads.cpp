#include "engine/threads.h"

#include <omp.h>

#include <algorithm>

namespace frost {

int available_threads() {
  if (omp_get_active_level() >= omp_get_max_active_levels()) return 1;  // a region here would be inactive
  return std::max(1, std::min(omp_get_max_threads(), omp_get_thread_limit()));
}

ThreadScope::ThreadScope(int threads)
    : saved_threads_(omp_get_max_threads()), saved_dynamic_(omp_get_dynamic()) {
  omp_set_dynamic(0);
  omp_set_num_threads(std::max(1, threads));
}

ThreadScope::~ThreadScope() {
  omp_set_num_threads(saved_threads_);
  omp_set_dynamic(saved_dynamic_);
}

}  // namespace frost
