// The device model interface. A model is the device itself: registers behind MMIO, a DMA
// engine it drives to read and write guest memory, and interrupts. It knows nothing of
// sessions, crypto or transports; the device node (device_node.h) gives it a DeviceContext
// and turns everything it does into sealed records.
//
// To add a model: implement DeviceModel in one file (see edu.cpp, accel.cpp), with its name
// (kName) and the parameters it takes (kParams), and add one line to the table in
// model_factory.cpp. That table is the only list of models: the configuration carries a
// model's name and parameters as written, and make_model()/check_model() check them. The
// constructor calls check_params() and throws only ModelError, so that every configuration
// problem points at its key (check_device_models in device_node.h).
//
// Threading: a model and its context are driven from one polling thread; nothing here is
// thread-safe. No call below re-enters the model: DMA completions arrive through dma_done()
// from the node's own progress step, never from inside a DeviceContext call.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::device {

enum class DmaStatus : uint8_t {
  kOk = 0,
  kFailed = 1,   // a chunk was missing, stale, forged or did not verify: no bytes delivered
                 // from it (the model must treat the whole transfer as failed)
  kTimeout = 2,  // a chunk never came back within the node's DMA timeout
};

// What the device node offers a model. Guest memory is addressed by device (DMA) address.
class DeviceContext {
 public:
  virtual ~DeviceContext() = default;

  // Starts reading len bytes of guest memory at addr into dst (owned by the model, valid
  // until dma_done(cookie)). Returns false when the request is refused now (outside the DMA
  // window, len 0 or too long, too many transfers in flight): no dma_done will follow.
  // Otherwise dma_done(cookie, status) follows exactly once; on kOk dst holds the verified
  // bytes; on failure dst may hold verified bytes of some chunks, never unverified ones.
  virtual bool dma_read(uint64_t addr, uint32_t len, uint8_t *dst, uint64_t cookie) = 0;
  // Starts writing len bytes from src (owned by the model, unchanged until dma_done(cookie))
  // to guest memory at addr. Same refusal and completion rules as dma_read. dma_done(kOk)
  // comes only after the data and its announcements to the guest were queued, so anything
  // the model sends after it (an interrupt, a register read) reaches the guest after them.
  virtual bool dma_write(uint64_t addr, const uint8_t *src, uint32_t len, uint64_t cookie) = 0;
  // Raises the interrupt vectors in `vectors` (a bitmask): the guest gets one sealed
  // interrupt descriptor carrying them. Never fails; under backpressure vectors are merged.
  virtual void raise_irq(uint32_t vectors) = 0;
  // Time of the node's latest poll (CLOCK_MONOTONIC nanoseconds, or test time).
  virtual uint64_t now_ns() const = 0;
};

class DeviceModel {
 public:
  virtual ~DeviceModel() = default;
  virtual std::string_view name() const = 0;

  // Register read of `size` bytes (1, 2, 4 or 8) at offset of BAR `bar`. nullopt when the
  // access hits no BAR of the device (the node answers kBadAccess); a model whose hardware
  // answers all-ones for a bad size returns that value instead.
  virtual std::optional<uint64_t> mmio_read(unsigned bar, uint64_t offset, unsigned size) = 0;
  // Register write (posted). Returns false when the access hits no BAR (counted by the node);
  // writes the device ignores (bad size, read-only register) still return true.
  virtual bool mmio_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) = 0;
  // Time-based work (timers, delayed completions, interrupt coalescing). Called from every
  // node poll with the current time.
  virtual void tick(uint64_t now_ns) { (void)now_ns; }
  // Completion of a dma_read/dma_write that was accepted.
  virtual void dma_done(uint64_t cookie, DmaStatus status) = 0;
};

// Model parameters from config::DeviceConfig::params: unsigned integers by name.
using ModelParams = std::map<std::string, uint64_t>;

// One parameter a model takes: its name, its value when left out, and its allowed range.
struct ModelParam {
  std::string_view name;
  uint64_t def;
  uint64_t lo;
  uint64_t hi;
};

// What make_model() and check_model() throw: the problem, and the parameter it concerns
// (empty when it is the model's name), so that a caller can point at the configuration key.
class ModelError : public std::invalid_argument {
 public:
  ModelError(std::string param, const std::string &what)
      : std::invalid_argument(what), param_(std::move(param)) {}
  const std::string &param() const { return param_; }

 private:
  std::string param_;
};

// Creates the model called `name` (empty: the default model, the table's first line) for
// `ctx` (which must outlive it). Throws ModelError naming the problem on an unknown model, an
// unknown parameter or an out-of-range value.
std::unique_ptr<DeviceModel> make_model(std::string_view name, const ModelParams &params,
                                        DeviceContext &ctx);
// Checks name and parameters without keeping a model (configuration time). Throws as above.
void check_model(std::string_view name, const ModelParams &params);
// Names make_model() accepts, the default first.
std::vector<std::string_view> model_names();
// The parameters model `name` takes (empty name: the default model's). Throws ModelError on
// an unknown model.
std::span<const ModelParam> model_params(std::string_view name);

// For model constructors: throws ModelError if `params` holds a name not in `spec` or a value
// outside its range.
void check_params(std::string_view model, std::span<const ModelParam> spec,
                  const ModelParams &params);
// The value of parameter `key` (which must be in `spec`): from `params`, or its default.
uint64_t param_value(std::span<const ModelParam> spec, const ModelParams &params,
                     std::string_view key);

}  // namespace ferry::device
