#pragma once
#include <ATen/Parallel.h>

#include <thread>

namespace patchcore::cli {

// --threads N; 0 = every logical core. LibTorch's own default is the number of
// physical cores, which leaves half of a hyper-threaded CPU idle here.
inline void set_thread_count(int requested) {
  const int count = requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(count);
}

}  // namespace patchcore::cli
