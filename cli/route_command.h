// `jizhan route query PATH FILE`: evaluates a route path (docs/ROUTE_PATHS.md) on a JSON,
// JSON-lines or XML file and prints what it matched.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "routepath/route.h"

namespace jz::cli {

class RouteCommands {
 public:
  explicit RouteCommands(CLI::App& app);
  bool chosen() const { return static_cast<bool>(action_); }
  int run() { return action_(); }

 private:
  int stream_lines(const routepath::RoutePath& path);

  std::function<int()> action_;
  std::string path_, file_, format_ = "auto";
  std::vector<std::string> xml_arrays_;
  bool paths_ = false, compact_ = false;
};

}  // namespace jz::cli
