// CRC32C (Castagnoli), the checksum of every WAL record and persisted chunk.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run time) and a
// table-driven fallback otherwise; both give identical results.
//
// Thread-safety: stateless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vigil::crc32c {

// Extends `crc` (the value returned for the data so far; 0 to start) over `data`.
uint32_t Extend(uint32_t crc, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

}  // namespace vigil::crc32c
