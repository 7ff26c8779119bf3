// Tile reductions for the scalar level (compiled with its target flags, see CMakeLists.txt).
#define PATCHCORE_KERNEL_NS scalar
#define PATCHCORE_KERNEL_WIDTH 1
#include "search/kernels/reduce_impl.h"
