// The engine's RecordSink: packs the records the layer above emits into frames built in place
// in the TX window, several per frame while they wait together. A frame is closed when the
// next record does not fit or at the end of the poll iteration (flush). A full window refuses
// the record (backpressure); a record that could never fit a frame is dropped and counted.
#pragma once

#include <cstdint>

#include "ferry/engine/engine.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/record_sink.h"
#include "reliability/reliable_tx.h"

namespace ferry::engine {

class FramePacker final : public proto::RecordSink {
 public:
  FramePacker(TxWindow &tx, EngineCounters &c, ChannelCounters &ch, uint32_t stream_id)
      : tx_(tx), c_(c), ch_(ch), stream_id_(stream_id), writer_({}) {}

  bool emit(proto::RecordType type, uint32_t channel, std::span<const uint8_t> head,
            std::span<const uint8_t> tail = {}) override;
  // Closes the frame being built, if any.
  void close();

 private:
  bool open_slot();
  TxWindow &tx_;
  EngineCounters &c_;
  ChannelCounters &ch_;
  const uint32_t stream_id_;
  proto::FrameWriter writer_;
  bool open_ = false;
};

}  // namespace ferry::engine
