// See ../context.h. ProcessGroupGloo::GlooStore overrides these members of gloo's store interface (the
// extended "v2" members only when GLOO_STORE_HAS_STORE_V2 is defined, which it is not here); torchkd never
// creates a GlooStore itself.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace gloo {
namespace rendezvous {

class Store {
 public:
  // Named by GlooStore::wait in libtorch 1.13.
  static constexpr std::chrono::milliseconds kDefaultTimeout = std::chrono::seconds(30);

  virtual ~Store() = default;
  virtual void set(const std::string& key, const std::vector<char>& data) = 0;
  virtual std::vector<char> get(const std::string& key) = 0;
  virtual void wait(const std::vector<std::string>& keys) = 0;
  virtual void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) = 0;
};

}  // namespace rendezvous
}  // namespace gloo
