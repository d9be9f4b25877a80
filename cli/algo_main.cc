// `jizhan-algo`: the algorithm commands (`jizhan algo ...`, `jizhan license ...`), a program
// of its own beside `jizhan` because it carries the media (OpenCV, FFmpeg) and serving
// (gRPC) stacks: `jizhan` passes these commands here, so its other commands start without
// loading them. It also serves the hidden children of the isolated host and of
// `algo check`, since those are started from the program that runs the algorithm.
#include <CLI/CLI.hpp>

#include "cli/algo_command.h"
#include "cli/child_commands.h"
#include "cli/data_command.h"
#include "cli/store_client.h"
#include "core/version.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Jizhan's algorithm commands (run as `jizhan algo`, `jizhan license`, `jizhan client` and "
      "`jizhan data`).",
      "jizhan"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(jz::version()));
  jz::cli::AlgoCommands algo(app);
  jz::cli::StoreClientCommands client(app);
  jz::cli::DataCommands data(app);

  jz::cli::ChildCommands children(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (algo.chosen()) return algo.run();
  if (client.chosen()) return client.run();
  if (data.chosen()) return data.run();
  if (children.chosen()) return children.run();
  return 0;
}
