// The devices' models in a device node configuration, checked against the model table with
// errors that point at the configuration (file, key, line). Kept out of device_src so that
// fuzz_device_node, which compiles device_src without the config library, needs no loader.
#include <string>

#include "ferry/config/config.h"
#include "ferry/device/device_node.h"
#include "ferry/device/model.h"

namespace ferry::device {

void check_device_models(const config::DeviceNodeConfig &cfg) {
  for (const config::DeviceConfig &d : cfg.devices) {
    try {
      check_model(d.model, d.params);
    } catch (const ModelError &e) {
      const bool is_param = !e.param().empty();
      const auto it = d.param_sources.find(e.param());
      const config::DeviceConfig::Source src =
          !is_param ? d.model_source
                    : (it != d.param_sources.end() ? it->second : config::DeviceConfig::Source{});
      if (src.line > 0) throw config::ConfigError(cfg.file, src.line, src.key, e.what());
      throw config::ConfigError(cfg.file, 0,
                                "device " + std::to_string(d.device_id) + ": " +
                                    (is_param ? "params." + e.param() : std::string("model")),
                                e.what());
    }
  }
}

}  // namespace ferry::device
