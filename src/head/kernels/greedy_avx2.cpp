// k-center greedy kernels for the avx2 level (compiled with its target flags, see CMakeLists.txt).
#define PATCHCORE_KERNEL_NS avx2
#define PATCHCORE_KERNEL_WIDTH 8
#include "head/kernels/greedy_impl.h"
