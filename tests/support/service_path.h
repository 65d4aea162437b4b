// Where the build puts each service binary, relative to the build folder: each host's service
// is built in its own wing (dataplane/service, device-node/service).
#pragma once

#include <string>
#include <string_view>

namespace ferry::testing {
inline std::string service_path(std::string_view service) {
  const std::string name(service);
  if (name == "ferry-device-node") return "device-node/service/" + name;
  return "dataplane/service/" + name;
}
}  // namespace ferry::testing
