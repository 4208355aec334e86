// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit-compatible with
// zlib's crc32(), so files written here can be checked with any zlib.
#pragma once

#include <cstddef>
#include <cstdint>

namespace atlas {

// Continue a CRC-32 over `size` bytes. Pass the previous return value as
// `crc` to checksum a stream in pieces; start with 0.
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace atlas
