// The `jizhan` command: the platform server and, as later issues add them, the
// command-line client and offline tools.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "cli/child_commands.h"
#include "cli/client_commands.h"
#include "cli/eval_command.h"
#include "cli/route_command.h"
#include "cli/sched_command.h"
#include "cli/server_command.h"
#include "cli/server_config.h"
#include "core/clock.h"
#include "core/files.h"
#include "core/version.h"

namespace {

// Collects --listen/--data-dir/--db/--set into config overrides, in the order given.
struct ServerFlags {
  std::string config_file;
  std::string listen, data_dir, db, log_format, log_level;
  std::vector<std::string> sets;
};

jz::Result<jz::ConfigSources> sources_from(const ServerFlags& f) {
  jz::ConfigSources src;
  if (!f.config_file.empty()) src.file = f.config_file;
  src.env = jz::process_environment();
  src.reserved_env = jz::cli::reserved_environment();
  auto add = [&](const std::string& value, const char* key, const char* flag) {
    if (!value.empty()) src.overrides.push_back({key, value, std::string("flag ") + flag});
  };
  add(f.listen, "server.listen", "--listen");
  add(f.data_dir, "server.data_dir", "--data-dir");
  add(f.db, "store.url", "--db");
  add(f.log_format, "log.format", "--log-format");
  add(f.log_level, "log.level", "--log-level");
  for (const auto& s : f.sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) {
      return jz::Status::invalid_argument("--set '" + s + "' must have the form KEY=VALUE");
    }
    src.overrides.push_back({s.substr(0, eq), s.substr(eq + 1), "flag --set " + s.substr(0, eq)});
  }
  return src;
}

void add_config_flags(CLI::App* cmd, ServerFlags& f) {
  cmd->add_option("--config", f.config_file, "YAML configuration file (see docs/CONFIG.md)")
      ->option_text("FILE");
  cmd->add_option("--set", f.sets, "Set any config key, e.g. --set server.threads=32 (repeatable)")
      ->option_text("KEY=VALUE");
}

// `algo`, `license`, `client` and `data` run in jizhan-algo, installed beside this program: it
// carries the media and serving stacks (OpenCV, FFmpeg, gRPC), which the other commands do not
// load.
int run_algo_program(int argc, char** argv) {
  std::string dir = jz::self_executable();
  if (dir.empty()) dir = argv[0];
  dir = dir.substr(0, dir.rfind('/') + 1);
  const std::string program = dir + "jizhan-algo";
  std::vector<char*> args{const_cast<char*>(program.c_str())};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(program.c_str(), args.data());
  std::cerr << "jizhan " << argv[1] << ": cannot run " << program << ": "
            << jz::errno_message(errno)
            << "\n  the algorithm commands live in jizhan-algo, installed beside jizhan: "
               "rebuild (make build) or copy it there\n";
  return 127;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (std::strcmp(argv[1], "algo") == 0 || std::strcmp(argv[1], "license") == 0 ||
                   std::strcmp(argv[1], "client") == 0 || std::strcmp(argv[1], "data") == 0)) {
    return run_algo_program(argc, argv);
  }
  CLI::App app{
      "Jizhan: a platform for computer-vision algorithm work on GPUs.\n"
      "Run `jizhan COMMAND --help` for the options of a command.",
      "jizhan"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(jz::version()));

  ServerFlags sf;
  auto* server = app.add_subcommand(
      "server",
      "Start the platform server: HTTP API, SQLite (default) or PostgreSQL store.\n"
      "Precedence: defaults < --config file < JIZHAN_* environment < flags.");
  server->add_option("--listen", sf.listen, "Address to serve on (default 127.0.0.1:8080)")
      ->option_text("HOST:PORT");
  server->add_option("--data-dir", sf.data_dir, "Data folder (default ./jizhan-data)")
      ->option_text("DIR");
  server
      ->add_option("--db", sf.db,
                   "Database URL: sqlite:PATH or postgres://USER:PASS@HOST:PORT/DB "
                   "(default sqlite:DATA_DIR/jizhan.db)")
      ->option_text("URL");
  server->add_option("--log-format", sf.log_format, "text or json")->option_text("FORMAT");
  server->add_option("--log-level", sf.log_level, "trace, debug, info, warn, error or off")
      ->option_text("LEVEL");
  add_config_flags(server, sf);

  auto* version = app.add_subcommand("version", "Print the version and source revision");

  auto* audit = app.add_subcommand(
      "audit", "The audit trail: verify it offline, list and export it from a server");
  audit->require_subcommand(1);
  ServerFlags af;
  auto* verify = audit->add_subcommand(
      "verify",
      "Check the hash chain of the audit trail directly in the store (the server may run).\n"
      "Exit 0 when intact; 1 naming the first bad record when records were changed,\n"
      "deleted or reordered.");
  verify->add_option("--data-dir", af.data_dir, "The server's data folder (default ./jizhan-data)")
      ->option_text("DIR");
  verify->add_option("--db", af.db, "Database URL, as for `jizhan server --db`")
      ->option_text("URL");
  add_config_flags(verify, af);
  bool skip_archive_files = false;
  verify->add_flag("--skip-archive-files", skip_archive_files,
                   "Check archive checkpoints but do not re-read the archive files (e.g. when\n"
                   "they were moved to cold storage)");
  ServerFlags xf;
  std::string older_than, archive_out;
  auto* archive = audit->add_subcommand(
      "archive",
      "Move audit records older than a given age out of the store into a JSON-lines file,\n"
      "after verifying their chain. A checkpoint stays in the store; `jizhan audit verify`\n"
      "re-reads the file. (The server does this hourly when audit.retention is set.)");
  archive->add_option("--older-than", older_than, "Age of the records to move, e.g. 90d")
      ->required()
      ->option_text("DURATION");
  archive->add_option("--out-dir", archive_out, "Folder for the file (default audit.archive_dir)")
      ->option_text("DIR");
  archive->add_option("--data-dir", xf.data_dir, "The server's data folder (default ./jizhan-data)")
      ->option_text("DIR");
  archive->add_option("--db", xf.db, "Database URL, as for `jizhan server --db`")
      ->option_text("URL");
  add_config_flags(archive, xf);

  auto* config = app.add_subcommand("config", "Inspect the configuration");
  config->require_subcommand(1);
  bool markdown = false;
  auto* keys = config->add_subcommand("keys", "List every config key with its default and meaning");
  keys->add_flag("--markdown", markdown, "Print a Markdown table (docs/CONFIG.md uses it)");
  ServerFlags cf;
  auto* check = config->add_subcommand(
      "check", "Load the configuration as `jizhan server` would and print the effective values");
  check->add_option("--listen", cf.listen, "As for `jizhan server`")->option_text("HOST:PORT");
  check->add_option("--data-dir", cf.data_dir, "As for `jizhan server`")->option_text("DIR");
  check->add_option("--db", cf.db, "As for `jizhan server`")->option_text("URL");
  add_config_flags(check, cf);

  jz::cli::ClientCommands client(app, *audit);
  jz::cli::RouteCommands route(app);
  jz::cli::EvalCommands eval(app);
  // Listed for --help; run_algo_program() passes them to jizhan-algo before parsing.
  app.add_subcommand(
      "algo", "Algorithm packages: build, check, run and serve them (docs/ALGORITHM_SDK.md)");
  app.add_subcommand("license",
                     "Algorithm licences: keys, issuing, activation (docs/ALGORITHM_SDK.md)");
  app.add_subcommand("client",
                     "The customer's side of the algorithm store: activate, install, update, "
                     "serve (docs/STORE.md)");
  app.add_subcommand("data",
                     "The data platform's tools on a local folder of images: perceptual hashes, "
                     "duplicate groups (docs/DATA.md)");
  jz::cli::SchedCommands sched(app);

  jz::cli::ChildCommands children(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (client.chosen()) return client.run();
  if (route.chosen()) return route.run();
  if (eval.chosen()) return eval.run();
  if (sched.chosen()) return sched.run();
  if (children.chosen()) return children.run();
  if (*server) {
    auto src = sources_from(sf);
    if (!src.ok()) {
      std::cerr << "jizhan server: error: " << src.status().message() << "\n";
      return 2;
    }
    return jz::cli::run_server(*src);
  }
  if (*verify) {
    auto src = sources_from(af);
    if (!src.ok()) {
      std::cerr << "jizhan audit verify: error: " << src.status().message() << "\n";
      return 2;
    }
    return jz::cli::run_audit_verify(*src, !skip_archive_files);
  }
  if (*archive) {
    auto src = sources_from(xf);
    auto age = jz::parse_duration(older_than);
    if (!src.ok() || !age.ok()) {
      std::cerr << "jizhan audit archive: error: "
                << (!src.ok() ? src.status() : age.status()).message() << "\n";
      return 2;
    }
    return jz::cli::run_audit_archive(*src, *age, archive_out);
  }
  if (*version) {
    std::cout << "jizhan " << jz::version() << " (" << jz::git_revision() << ")\n";
    return 0;
  }
  if (*keys) {
    std::cout << jz::cli::describe_keys(markdown);
    return 0;
  }
  if (*check) {
    auto src = sources_from(cf);
    if (!src.ok()) {
      std::cerr << "jizhan config check: error: " << src.status().message() << "\n";
      return 2;
    }
    auto cfg = jz::load_config(jz::cli::server_schema(), *src);
    jz::Status s = cfg.ok() ? jz::cli::server_settings(*cfg).status() : cfg.status();
    if (!s.ok()) {
      std::cerr << "jizhan config check: error: " << s.message() << "\n";
      return 2;
    }
    for (const auto& line : cfg->describe()) std::cout << line << "\n";
    return 0;
  }
  return 0;
}
