// k-center greedy kernels for the avx512 level (compiled with its target flags, see CMakeLists.txt).
#define PATCHCORE_KERNEL_NS avx512
#define PATCHCORE_KERNEL_WIDTH 16
#include "head/kernels/greedy_impl.h"
