#pragma once
// The ascending (distance, bank row) list of a k-nearest search, shared by the SIMD
// kernels and the merge of per-thread lists in exact_index.cpp. Internal linkage on
// purpose: each kernel file is compiled with its own target flags, and one shared
// inline definition could let the linker hand an AVX-512 copy to an AVX2-only CPU.
#include <cstdint>

namespace patchcore::search::kernels {
namespace {

// Inserts (d, row) into list[0..k) if it belongs there. Callers offer rows in
// increasing order, so an equal distance keeps the earlier (lower) row first.
inline void insert_sorted(float d, int64_t row, int64_t k, float* list, int64_t* list_rows) {
  int64_t pos = k - 1;
  if (!(d < list[pos])) return;
  while (pos > 0 && d < list[pos - 1]) {
    list[pos] = list[pos - 1];
    list_rows[pos] = list_rows[pos - 1];
    --pos;
  }
  list[pos] = d;
  list_rows[pos] = row;
}

}  // namespace
}  // namespace patchcore::search::kernels
