// k-center greedy kernels for the scalar level (compiled with its target flags, see CMakeLists.txt).
#define PATCHCORE_KERNEL_NS scalar
#define PATCHCORE_KERNEL_WIDTH 1
#include "head/kernels/greedy_impl.h"
