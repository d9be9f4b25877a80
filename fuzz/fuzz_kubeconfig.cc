// Fuzz target: kubeconfig reading (exec/kubernetes/client.h). Whatever the YAML, a
// context either resolves to an http(s) server or fails with a message.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exec/kubernetes/client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* context : {"", "prod"}) {
    auto a = jz::kube::parse_kubeconfig(text, context, "/nonexistent");
    if (a.ok()) {
      if (a->server.rfind("https://", 0) != 0 && a->server.rfind("http://", 0) != 0)
        __builtin_trap();
    } else if (a.status().message().empty()) {
      __builtin_trap();
    }
  }
  return 0;
}
