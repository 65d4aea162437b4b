// The table of device models: the one list of the models there are and of the parameters each
// takes (its kParams). The configuration only carries names and numbers; they are checked here.
#include <stdexcept>
#include <string>

#include "ferry/device/accel.h"
#include "ferry/device/edu.h"
#include "ferry/device/model.h"

namespace ferry::device {

namespace {

struct ModelEntry {
  std::string_view name;
  std::span<const ModelParam> params;
  std::unique_ptr<DeviceModel> (*create)(DeviceContext &, const ModelParams &);
};

template <typename M>
std::unique_ptr<DeviceModel> create(DeviceContext &ctx, const ModelParams &params) {
  return std::make_unique<M>(ctx, params);
}

template <typename M>
constexpr ModelEntry entry() {
  return {M::kName, M::kParams, &create<M>};
}

// The first line is the default model (a device configured without `model`).
constexpr ModelEntry kModels[] = {
    entry<EduModel>(),
    entry<AccelModel>(),
};

template <typename T, typename F>
std::string join(const T &items, F name) {
  std::string list;
  for (const auto &item : items) list += (list.empty() ? "" : ", ") + std::string(name(item));
  return list;
}

const ModelEntry &find_model(std::string_view name) {
  if (name.empty()) return kModels[0];
  for (const ModelEntry &m : kModels) {
    if (m.name == name) return m;
  }
  throw ModelError("", "unknown device model '" + std::string(name) + "' (known: " +
                           join(kModels, [](const ModelEntry &m) { return m.name; }) + ")");
}

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
  const ModelEntry &m = find_model(name);
  check_params(m.name, m.params, params);
  return m.create(ctx, params);
}

void check_model(std::string_view name, const ModelParams &params) {
  NullContext ctx;
  (void)make_model(name, params, ctx);  // the constructor may check what the table cannot
}

std::vector<std::string_view> model_names() {
  std::vector<std::string_view> names;
  for (const ModelEntry &m : kModels) names.push_back(m.name);
  return names;
}

std::span<const ModelParam> model_params(std::string_view name) {
  return find_model(name).params;
}

void check_params(std::string_view model, std::span<const ModelParam> spec,
                  const ModelParams &params) {
  for (const auto &[key, value] : params) {
    const ModelParam *p = nullptr;
    for (const ModelParam &s : spec) p = s.name == key ? &s : p;
    if (p == nullptr) {
      throw ModelError(
          key, "model " + std::string(model) + ": unknown parameter params." + key +
                   " (known: " + join(spec, [](const ModelParam &s) { return s.name; }) + ")");
    }
    if (value < p->lo || value > p->hi) {
      throw ModelError(key, "model " + std::string(model) + ": params." + key + " = " +
                                std::to_string(value) + " is outside [" + std::to_string(p->lo) +
                                ", " + std::to_string(p->hi) + "]");
    }
  }
}

uint64_t param_value(std::span<const ModelParam> spec, const ModelParams &params,
                     std::string_view key) {
  const auto it = params.find(std::string(key));
  if (it != params.end()) return it->second;
  for (const ModelParam &s : spec) {
    if (s.name == key) return s.def;
  }
  throw std::logic_error("model parameter " + std::string(key) + " is not in its kParams");
}

}  // namespace ferry::device
