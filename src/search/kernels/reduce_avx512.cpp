// Tile reductions for the avx512 level (compiled with its target flags, see CMakeLists.txt).
#define PATCHCORE_KERNEL_NS avx512
#define PATCHCORE_KERNEL_WIDTH 16
#include "search/kernels/reduce_impl.h"
