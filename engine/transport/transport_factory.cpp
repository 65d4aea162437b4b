// The one place that knows every transport: builds the one a service's options name.
#include <memory>
#include <stdexcept>

#include "ferry/engine/transport.h"
#include "transport/transport_dpdk.h"
#include "transport/transport_kernel_tcp.h"
#include "transport/transport_kernel_udp.h"

namespace ferry::engine {

std::unique_ptr<Transport> make_transport(const TransportOptions &opt, Role role) {
  switch (opt.kind) {
    case TransportOptions::Kind::kKernelUdp:
      return std::make_unique<KernelUdpTransport>(opt);
    case TransportOptions::Kind::kKernelTcp:
      return std::make_unique<KernelTcpTransport>(opt, role);
    case TransportOptions::Kind::kDpdk:
      return std::make_unique<DpdkTransport>(opt);
  }
  throw std::runtime_error("unknown transport kind");
}

}  // namespace ferry::engine
