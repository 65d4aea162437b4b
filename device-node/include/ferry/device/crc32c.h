// The accelerator model's CRC32C is the project's one implementation (ferry/proto/crc32c.h).
#pragma once

#include "ferry/proto/crc32c.h"

namespace ferry::device {

using proto::crc32c;

}  // namespace ferry::device
