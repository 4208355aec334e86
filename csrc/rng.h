// Counter-based random numbers: every draw is a pure function of (key, counter),
// so results do not depend on thread count or on the order work is scheduled in.
#pragma once

#include <cstdint>

namespace atlas {

// SplitMix64 finaliser (Steele, Lea and Flood, "Fast splittable pseudorandom
// number generators", OOPSLA 2014): a bijective 64-bit mixer.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Derive a stream key from a seed and up to two stream ids.
inline uint64_t stream_key(uint64_t seed, uint64_t a, uint64_t b = 0) {
  return mix64(mix64(mix64(seed) ^ a) ^ (b * 0xD1B54A32D192ED03ull));
}

// The `counter`-th 64-bit draw of the stream `key`: SplitMix64 output for the
// state key + counter * golden ratio, so one mix per draw.
inline uint64_t draw64(uint64_t key, uint64_t counter) {
  return mix64(key + counter * 0x9E3779B97F4A7C15ull);
}

// Map a 64-bit draw onto [0, bound) by multiply-high (Lemire 2019). The bias is
// at most bound / 2^64, far below anything a sampler test can detect.
inline uint64_t bounded(uint64_t draw, uint64_t bound) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(draw) * bound) >> 64);
}

// A uniform double in (0, 1], never zero so that log() stays finite.
inline double unit_open_zero(uint64_t draw) {
  return (static_cast<double>(draw >> 11) + 1.0) * 0x1.0p-53;
}

}  // namespace atlas
