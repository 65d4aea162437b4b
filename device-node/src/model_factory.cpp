// The table of device models by name, and parameter helpers for their constructors.
#include <stdexcept>
#include <string>

#include "ferry/device/accel.h"
#include "ferry/device/edu.h"
#include "ferry/device/model.h"

namespace ferry::device {

namespace {

struct ModelEntry {
  std::string_view name;
  std::unique_ptr<DeviceModel> (*create)(DeviceContext &, const ModelParams &);
};

template <typename M>
std::unique_ptr<DeviceModel> create(DeviceContext &ctx, const ModelParams &params) {
  return std::make_unique<M>(ctx, params);
}

constexpr ModelEntry kModels[] = {
    {"edu", &create<EduModel>},
    {"accel", &create<AccelModel>},
};

// A context for check_model(): models never call their context from the constructor.
class NullContext final : public DeviceContext {
 public:
  bool dma_read(uint64_t, uint32_t, uint8_t *, uint64_t) override { return false; }
  bool dma_write(uint64_t, const uint8_t *, uint32_t, uint64_t) override { return false; }
  void raise_irq(uint32_t) override {}
  uint64_t now_ns() const override { return 0; }
};

}  // namespace

std::unique_ptr<DeviceModel> make_model(std::string_view name, const ModelParams &params,
                                        DeviceContext &ctx) {
  for (const ModelEntry &m : kModels) {
    if (m.name == name) return m.create(ctx, params);
  }
  std::string known;
  for (const ModelEntry &m : kModels) known += (known.empty() ? "" : ", ") + std::string(m.name);
  throw std::invalid_argument("unknown device model '" + std::string(name) + "' (known: " + known +
                              ")");
}

void check_model(std::string_view name, const ModelParams &params) {
  NullContext ctx;
  (void)make_model(name, params, ctx);
}

std::vector<std::string_view> model_names() {
  std::vector<std::string_view> names;
  for (const ModelEntry &m : kModels) names.push_back(m.name);
  return names;
}

uint64_t model_param(std::string_view model, const ModelParams &params, const std::string &key,
                     uint64_t def, uint64_t lo, uint64_t hi) {
  auto it = params.find(key);
  if (it == params.end()) return def;
  if (it->second < lo || it->second > hi) {
    throw std::invalid_argument("model " + std::string(model) + ": params." + key + " = " +
                                std::to_string(it->second) + " is outside [" + std::to_string(lo) +
                                ", " + std::to_string(hi) + "]");
  }
  return it->second;
}

void reject_unknown_params(std::string_view model, const ModelParams &params,
                           std::initializer_list<std::string_view> known) {
  for (const auto &[key, value] : params) {
    bool found = false;
    for (std::string_view k : known) found = found || k == key;
    if (!found) {
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      throw std::invalid_argument("model " + std::string(model) + ": unknown parameter params." +
                                  key + " (known: " + list + ")");
    }
  }
}

}  // namespace ferry::device
