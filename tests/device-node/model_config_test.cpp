// The model table (device-node/src/model_factory.cpp) is the one list of models and of their
// parameters: every model in it can be built, and a device node configuration naming an
// unknown model or a bad parameter is refused with the file, key and line.
#include <gtest/gtest.h>

#include <string>

#include "config_file.h"
#include "ferry/config/config.h"
#include "ferry/device/device_node.h"
#include "ferry/device/model.h"
#include "flat_dma_context.h"

namespace ferry::device {
namespace {

using config::ConfigError;
using testing::expect_error;
using testing::FlatDmaContext;
using testing::TempYaml;

constexpr uint64_t kRam = 0x1000000;

ModelError expect_model_error(std::string_view model, const ModelParams &params) {
  try {
    check_model(model, params);
  } catch (const ModelError &e) {
    return e;
  }
  ADD_FAILURE() << "no ModelError for model '" << model << "'";
  return ModelError("", "");
}

TEST(ModelTable, every_model_is_built_with_its_defaults_and_at_the_ends_of_its_ranges) {
  FlatDmaContext ctx(kRam, 4096);
  ASSERT_FALSE(model_names().empty());
  for (std::string_view name : model_names()) {
    SCOPED_TRACE(std::string(name));
    auto m = make_model(name, {}, ctx);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->name(), name);
    for (const ModelParam &p : model_params(name)) {
      SCOPED_TRACE(std::string(p.name));
      const std::string key(p.name);
      EXPECT_LE(p.lo, p.def);
      EXPECT_LE(p.def, p.hi);
      EXPECT_NO_THROW(check_model(name, {{key, p.lo}}));
      EXPECT_NO_THROW(check_model(name, {{key, p.hi}}));
      if (p.hi < UINT64_MAX) {
        EXPECT_EQ(expect_model_error(name, {{key, p.hi + 1}}).param(), key);
      }
      if (p.lo > 0) {
        EXPECT_EQ(expect_model_error(name, {{key, p.lo - 1}}).param(), key);
      }
    }
  }
}

TEST(ModelTable, a_device_without_a_model_gets_the_first_model_in_the_table_edu) {
  FlatDmaContext ctx(kRam, 4096);
  EXPECT_EQ(make_model("", {}, ctx)->name(), "edu");
  EXPECT_EQ(model_names().front(), "edu");
}

TEST(ModelTable, an_unknown_model_is_refused_naming_every_model_in_the_table) {
  const ModelError e = expect_model_error("gpu", {});
  EXPECT_EQ(e.param(), "");
  const std::string what = e.what();
  EXPECT_NE(what.find("'gpu'"), std::string::npos) << what;
  for (std::string_view name : model_names())
    EXPECT_NE(what.find(std::string(name)), std::string::npos) << what;
}

TEST(ModelTable, an_unknown_parameter_is_refused_naming_the_ones_the_model_takes) {
  const ModelError e = expect_model_error("edu", {{"max_transfer", 4096}});  // accel's
  EXPECT_EQ(e.param(), "max_transfer");
  const std::string what = e.what();
  for (const ModelParam &p : model_params("edu"))
    EXPECT_NE(what.find(std::string(p.name)), std::string::npos) << what;
}

// A device node configuration file as the service reads it, with `device` as its one device.
std::string node_yaml(const std::string &device) {
  return "devices:\n"
         "  - id: 7\n"
         "    guests: [{id: 1, psk_file: /etc/ferry/psk}]\n" +
         device;
}

TEST(DeviceModelsConfig, valid_models_and_parameters_pass) {
  TempYaml y(node_yaml("    model: edu\n    params: {dma_buffer_size: 65536}\n") +
             "  - id: 8\n"
             "    guests: [{id: 1, psk_file: /etc/ferry/psk}]\n"
             "    model: accel\n"
             "    params: {max_transfer: 4096}\n"
             "  - id: 9\n"
             "    guests: [{id: 1, psk_file: /etc/ferry/psk}]\n");
  EXPECT_NO_THROW(check_device_models(config::load_device_node(y.path())));
}

// The error check_device_models() throws on a file with `device` as its one device; fails the
// test if the loader refuses the file or the check throws none or names another file.
ConfigError model_error(const std::string &device) {
  TempYaml y(node_yaml(device));
  const config::DeviceNodeConfig cfg = config::load_device_node(y.path());
  ConfigError e = expect_error([&] { check_device_models(cfg); });
  EXPECT_EQ(e.file(), y.path());
  return e;
}

TEST(DeviceModelsConfig, an_unknown_model_is_refused_naming_file_key_and_line) {
  ConfigError e = model_error("    model: gpu\n");
  EXPECT_EQ(e.key(), "devices[0].model");
  EXPECT_EQ(e.line(), 4);
  EXPECT_NE(std::string(e.what()).find("unknown device model 'gpu'"), std::string::npos)
      << e.what();
}

TEST(DeviceModelsConfig, an_unknown_model_parameter_is_refused_naming_file_key_and_line) {
  ConfigError e = model_error("    params:\n      warp_speed: 9\n");
  EXPECT_EQ(e.key(), "devices[0].params.warp_speed");
  EXPECT_EQ(e.line(), 5);
  e = model_error("    model: accel\n    params: {dma_buffer_size: 4096}\n");  // edu's
  EXPECT_EQ(e.key(), "devices[0].params.dma_buffer_size");
  EXPECT_EQ(e.line(), 5);
}

TEST(DeviceModelsConfig, an_out_of_range_model_parameter_is_refused_naming_file_key_and_line) {
  ConfigError e = model_error("    model: accel\n    params:\n      max_transfer: 0\n");
  EXPECT_EQ(e.key(), "devices[0].params.max_transfer");
  EXPECT_EQ(e.line(), 6);
  EXPECT_NE(std::string(e.what()).find("outside [1, "), std::string::npos) << e.what();
}

TEST(DeviceModelsConfig, a_configuration_built_in_code_names_the_device_and_key) {
  config::DeviceNodeConfig cfg;
  cfg.file = "node.yaml";
  cfg.devices.resize(1);
  cfg.devices[0].device_id = 7;
  cfg.devices[0].params = {{"colour", 1}};
  ConfigError e = expect_error([&] { check_device_models(cfg); });
  EXPECT_EQ(e.file(), "node.yaml");
  EXPECT_EQ(e.key(), "device 7: params.colour");
  cfg.devices[0].params.clear();
  cfg.devices[0].model = "gpu";
  e = expect_error([&] { check_device_models(cfg); });
  EXPECT_EQ(e.key(), "device 7: model");
}

}  // namespace
}  // namespace ferry::device
