#include "cli/client_commands.h"

#include <termios.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/client.h"
#include "cli/client_util.h"
#include "cli/upload_command.h"
#include "core/clock.h"
#include "core/files.h"
#include "core/json.h"
#include "core/text.h"
#include "training/records.h"
#include "training/tensorboard.h"

namespace jz::cli {

// ---- connection -----------------------------------------------------------------

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Resolves the server and the token as cli/client.h describes.
Result<Conn> connect(const std::string& server_flag, bool need_token) {
  Conn c;
  JZ_ASSIGN_OR_RETURN(c.config_dir, config_dir());
  JZ_ASSIGN_OR_RETURN(c.stored, load_credentials(c.config_dir));
  std::string server = server_flag;
  if (server.empty()) server = env("JIZHAN_SERVER");
  if (server.empty() && c.stored) server = c.stored->server;
  if (server.empty()) server = kDefaultServer;
  JZ_ASSIGN_OR_RETURN(server, normalize_server_url(server));
  std::string token = env("JIZHAN_TOKEN");
  if (token.empty() && c.stored && c.stored->server == server) token = c.stored->token;
  if (need_token && token.empty()) {
    return Status::unauthenticated("not logged in to " + server + ": run `jizhan login --server " +
                                   server + "`, or set JIZHAN_TOKEN to an API token");
  }
  c.api = std::make_unique<ApiClient>(server, token);
  return c;
}

// ---- output ---------------------------------------------------------------------

std::string cell(const Json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) out += (out.empty() ? "" : ",") + cell(e);
    return out.empty() ? "-" : out;
  }
  return json::dump(v);
}

// A value by dotted key ("token.id").
Json field(const Json& obj, const std::string& key) {
  const Json* cur = &obj;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string part =
        key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(part)) return nullptr;
    cur = &(*cur)[part];
    if (dot == std::string::npos) return *cur;
    start = dot + 1;
  }
}

void print_table(const Json& items, const std::vector<Column>& cols) {
  std::vector<std::vector<std::string>> rows;
  std::vector<size_t> width;
  width.reserve(cols.size());
  for (const auto& c : cols) width.push_back(c.header.size());
  for (const auto& item : items) {
    std::vector<std::string> row;
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string s = cell(field(item, cols[i].key));
      for (auto& ch : s) {
        if (ch == '\n' || ch == '\t') ch = ' ';
      }
      width[i] = std::max(width[i], s.size());
      row.push_back(std::move(s));
    }
    rows.push_back(std::move(row));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  std::vector<std::string> headers;
  headers.reserve(cols.size());
  for (const auto& c : cols) headers.push_back(c.header);
  line(headers);
  for (const auto& r : rows) line(r);
}

void print_fields(const Json& obj, const std::string& prefix) {
  size_t w = 0;
  for (auto it = obj.begin(); it != obj.end(); ++it)
    w = std::max(w, prefix.size() + it.key().size());
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (it->is_object()) {
      print_fields(*it, prefix + it.key() + ".");
      continue;
    }
    std::string k = prefix + it.key();
    std::cout << k << ":" << std::string(w - k.size() + 1, ' ') << cell(*it) << "\n";
  }
}

// Prints a list response as a table or as JSON.
void show_list(const std::string& output, const Json& items, const std::vector<Column>& cols) {
  if (output == "json") {
    std::cout << items.dump(2) << "\n";
  } else {
    print_table(items, cols);
  }
}

void show_object(const std::string& output, const Json& obj) {
  if (output == "json") {
    std::cout << obj.dump(2) << "\n";
  } else {
    print_fields(obj);
  }
}

// Every page of a list endpoint.
Result<Json> list_all(ApiClient& api, const std::string& path) {
  Json all = Json::array();
  std::string token;
  for (int page = 0; page < 100000; ++page) {
    std::string p = path;
    if (!token.empty()) {
      p += (p.find('?') == std::string::npos ? "?" : "&") + std::string("page_token=") +
           url_encode(token);
    }
    JZ_ASSIGN_OR_RETURN(Json body, api.call("GET", p));
    for (auto& item : body["items"]) all.push_back(std::move(item));
    if (!body.contains("next_page_token") || !body["next_page_token"].is_string()) break;
    token = body["next_page_token"].get<std::string>();
  }
  return all;
}

int report(const std::string& command, const Status& s) {
  std::cerr << "jizhan " << command << ": error: " << s.message() << "\n";
  return 1;
}

// Runs `fn(conn)`, reporting errors as `jizhan COMMAND: error: ...`.
int with_conn(const std::string& command, const std::string& server, bool need_token,
              const std::function<Status(Conn&)>& fn) {
  auto conn = connect(server, need_token);
  if (!conn.ok()) return report(command, conn.status());
  Status s = fn(*conn);
  return s.ok() ? 0 : report(command, s);
}

namespace {

// ---- input ----------------------------------------------------------------------

// From the terminal without echo, or one line of standard input in scripts.
Result<std::string> read_secret(const std::string& prompt, bool confirm) {
  auto read_line = [](std::string& out) -> bool {
    return static_cast<bool>(std::getline(std::cin, out));
  };
  std::string first;
  if (::isatty(STDIN_FILENO)) {
    termios old{};
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::cerr << prompt << ": " << std::flush;
    bool ok = read_line(first);
    std::cerr << "\n";
    std::string second;
    if (ok && confirm) {
      std::cerr << "Again: " << std::flush;
      ok = read_line(second);
      std::cerr << "\n";
    }
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    if (!ok) return Status::invalid_argument("no password given");
    if (confirm && first != second) return Status::invalid_argument("the passwords differ");
  } else if (!read_line(first)) {
    return Status::invalid_argument(
        "no password on standard input (pipe it in, e.g. `printf '%s\\n' \"$PW\" | jizhan ...`)");
  }
  if (!first.empty() && first.back() == '\r') first.pop_back();
  if (first.empty()) return Status::invalid_argument("the password is empty");
  return first;
}

// "2.5" -> 2.5, "unlimited"/"none" -> null; errors name the flag.
Result<Json> limit_value(const std::string& flag, const std::string& text) {
  if (text == "unlimited" || text == "none") return Json(nullptr);
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end) {
    return Status::invalid_argument(flag + " '" + text + "' must be a number or 'unlimited'");
  }
  if (v == static_cast<double>(static_cast<int64_t>(v))) return Json(static_cast<int64_t>(v));
  return Json(v);
}

const std::vector<Column> kUserCols = {{"USERNAME", "username"}, {"DISPLAY NAME", "display_name"},
                                       {"EMAIL", "email"},       {"PLATFORM ROLE", "platform_role"},
                                       {"STATE", "state"},       {"CREATED", "created_at"}};
const std::vector<Column> kRootCols = {
    {"PATH", "path"}, {"ASSIGNED BY", "created_by"}, {"SINCE", "created_at"}};
const std::vector<Column> kWorkspaceCols = {
    {"NAME", "name"}, {"DESCRIPTION", "description"}, {"CREATED", "created_at"}};
const std::vector<Column> kProjectCols = {{"NAME", "name"},
                                          {"WORKSPACE", "workspace"},
                                          {"DESCRIPTION", "description"},
                                          {"CREATED", "created_at"}};
const std::vector<Column> kMemberCols = {{"USERNAME", "username"}, {"ROLE", "role"}};
const std::vector<Column> kTokenCols = {
    {"ID", "id"},           {"NAME", "name"},          {"KIND", "kind"},
    {"PROJECT", "project"}, {"EXPIRES", "expires_at"}, {"REVOKED", "revoked_at"}};
const std::vector<Column> kAuditCols = {{"SEQ", "seq"},
                                        {"TIME", "time"},
                                        {"USER", "user"},
                                        {"VERB", "verb"},
                                        {"RESOURCE", "resource_type"},
                                        {"NAME", "resource_name"},
                                        {"PROJECT", "project"},
                                        {"STATUS", "response_status"}};
const std::vector<Column> kEventCols = {{"SEQ", "seq"},
                                        {"TIME", "time"},
                                        {"TYPE", "type"},
                                        {"REASON", "reason"},
                                        {"RESOURCE", "resource_type"},
                                        {"NAME", "resource_name"},
                                        {"ACTOR", "actor"},
                                        {"MESSAGE", "message"}};

}  // namespace

CLI::App* ClientCommands::leaf(CLI::App& parent, const std::string& name,
                               const std::string& description,
                               std::function<int(const Common&)> body) {
  auto* cmd = parent.add_subcommand(name, description);
  cmd->add_option("--server", common_.server,
                  "Server URL (default: $JIZHAN_SERVER, else the server of the last "
                  "`jizhan login`, else http://127.0.0.1:8080)")
      ->option_text("URL");
  cmd->add_option("-o,--output", common_.output, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->option_text("FORMAT");
  cmd->callback(
      [this, body = std::move(body)] { action_ = [this, body] { return body(common_); }; });
  return cmd;
}

ClientCommands::ClientCommands(CLI::App& app, CLI::App& audit) {
  // ---- login / logout / whoami ----
  auto login = std::make_shared<std::string>();
  leaf(app, "login",
       "Log in to a server and keep the session token in ~/.config/jizhan (mode 0600).\n"
       "The password is read from the terminal without echo, or as one line of standard\n"
       "input in scripts.",
       [login](const Common& c) {
         return with_conn("login", c.server, false, [&](Conn& conn) -> Status {
           std::string username = *login;
           if (username.empty() && conn.stored) username = conn.stored->username;
           if (username.empty()) {
             return Status::invalid_argument("say who logs in: --username NAME");
           }
           JZ_ASSIGN_OR_RETURN(std::string password,
                               read_secret("Password for " + username, false));
           Json body = {{"username", username}, {"password", password}};
           JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("POST", "/api/v1/auth/login", &body));
           Credentials cred{conn.api->server(), username, out.value("token", ""),
                            out.value("expires_at", "")};
           JZ_RETURN_IF_ERROR(save_credentials(conn.config_dir, cred));
           std::cout << "Logged in to " << cred.server << " as " << username
                     << " (the session expires at " << cred.expires_at << ")\n";
           return {};
         });
       })
      ->add_option("-u,--username", *login, "Who logs in (default: the last user who did)")
      ->option_text("NAME");
  leaf(app, "logout", "End the session on the server and forget the stored token",
       [](const Common& c) {
         return with_conn("logout", c.server, false, [&](Conn& conn) -> Status {
           if (!conn.stored) {
             std::cout << "Not logged in\n";
             return {};
           }
           auto r = conn.api->call("POST", "/api/v1/auth/logout");
           // An expired session is as good as ended; anything else is worth saying.
           if (!r.ok() && r.status().code() != Code::kUnauthenticated) {
             std::cerr << "jizhan logout: warning: " << r.status().message() << "\n";
           }
           JZ_RETURN_IF_ERROR(remove_credentials(conn.config_dir));
           std::cout << "Logged out of " << conn.stored->server << "\n";
           return {};
         });
       });
  leaf(app, "whoami", "Show who the stored login or JIZHAN_TOKEN is", [](const Common& c) {
    return with_conn("whoami", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json me, conn.api->call("GET", "/api/v1/auth/whoami"));
      show_object(c.output, me);
      return {};
    });
  });

  // ---- users ----
  auto* user = app.add_subcommand("user", "Manage user accounts (platform admins)");
  user->require_subcommand(1);
  struct UserOpts {
    std::string username, display_name, email, platform_role;
  };
  auto uo = std::make_shared<UserOpts>();
  auto* ucreate = leaf(
      *user, "create",
      "Create a user. The password is read from the terminal (twice), or as one line of\n"
      "standard input in scripts.",
      [uo](const Common& c) {
        return with_conn("user create", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(std::string pw, read_secret("Password for " + uo->username, true));
          Json body = {{"username", uo->username}, {"password", pw}};
          if (!uo->display_name.empty()) body["display_name"] = uo->display_name;
          if (!uo->email.empty()) body["email"] = uo->email;
          if (!uo->platform_role.empty()) body["platform_role"] = uo->platform_role;
          JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("POST", "/api/v1/users", &body));
          show_object(c.output, out);
          return {};
        });
      });
  ucreate->add_option("USERNAME", uo->username, "Lower-case login name")->required();
  ucreate->add_option("--display-name", uo->display_name, "Full name")->option_text("TEXT");
  ucreate->add_option("--email", uo->email, "Email address for notifications")
      ->option_text("ADDRESS");
  ucreate
      ->add_option("--platform-role", uo->platform_role,
                   "platform-regular (default) or platform-admin")
      ->option_text("ROLE");
  leaf(*user, "list", "List users", [](const Common& c) {
    return with_conn("user list", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, "/api/v1/users"));
      show_list(c.output, items, kUserCols);
      return {};
    });
  });
  leaf(
      *user, "unlock",
      "Clear the failed logins counted against a user, from every address, so they may\n"
      "log in again at once",
      [uo](const Common& c) {
        return with_conn("user unlock", c.server, true, [&](Conn& conn) -> Status {
          Json body = Json::object();
          JZ_RETURN_IF_ERROR(
              conn.api->call("POST", "/api/v1/users/" + url_encode(uo->username) + "/unlock", &body)
                  .status());
          std::cout << "Cleared the failed logins of " << uo->username << "\n";
          return {};
        });
      })
      ->add_option("USERNAME", uo->username, "User")
      ->required();
  for (const bool disable : {true, false}) {
    leaf(*user, disable ? "disable" : "enable",
         disable ? "Disable a user: their sessions and API tokens stop at once, and logins fail"
                 : "Enable a disabled user again (their unexpired tokens work again)",
         [uo, disable](const Common& c) {
           return with_conn(
               disable ? "user disable" : "user enable", c.server, true, [&](Conn& conn) -> Status {
                 Json body = {{"disabled", disable}};
                 JZ_ASSIGN_OR_RETURN(
                     Json out,
                     conn.api->call("PATCH", "/api/v1/users/" + url_encode(uo->username), &body));
                 show_object(c.output, out);
                 return {};
               });
         })
        ->add_option("USERNAME", uo->username, "User")
        ->required();
  }
  leaf(*user, "password",
       "Change your password (the current one, then the new one twice; your other sessions\n"
       "end), or, as a platform admin, set another user's (all their sessions end). In\n"
       "scripts each password is one line of standard input.",
       [uo](const Common& c) {
         return with_conn("user password", c.server, true, [&](Conn& conn) -> Status {
           JZ_ASSIGN_OR_RETURN(Json me, conn.api->call("GET", "/api/v1/auth/whoami"));
           const std::string name =
               uo->username.empty() ? me["username"].get<std::string>() : uo->username;
           Json body = Json::object();
           if (name == me["username"]) {
             JZ_ASSIGN_OR_RETURN(body["current_password"], read_secret("Current password", false));
           }
           JZ_ASSIGN_OR_RETURN(body["new_password"], read_secret("New password for " + name, true));
           JZ_RETURN_IF_ERROR(
               conn.api->call("POST", "/api/v1/users/" + url_encode(name) + "/password", &body)
                   .status());
           std::cout << "Password of " << name << " changed; " << name
                     << (name == me["username"] ? "'s other sessions ended\n"
                                                : "'s sessions ended\n");
           return {};
         });
       })
      ->add_option("USERNAME", uo->username, "Another user (platform admins); default: you");

  // ---- workspaces ----
  auto* ws = app.add_subcommand("workspace", "Manage workspaces (tenants that hold projects)");
  ws->require_subcommand(1);
  struct NameOpts {
    std::string name, description, workspace;
  };
  auto wo = std::make_shared<NameOpts>();
  auto* wcreate =
      leaf(*ws, "create", "Create a workspace (platform admins)", [wo](const Common& c) {
        return with_conn("workspace create", c.server, true, [&](Conn& conn) -> Status {
          Json body = {{"name", wo->name}};
          if (!wo->description.empty()) body["description"] = wo->description;
          JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("POST", "/api/v1/workspaces", &body));
          show_object(c.output, out);
          return {};
        });
      });
  wcreate->add_option("NAME", wo->name, "Lower-case name, 1-63 of a-z 0-9 -")->required();
  wcreate->add_option("--description", wo->description, "What it is for")->option_text("TEXT");
  leaf(*ws, "list", "List the workspaces you can see", [](const Common& c) {
    return with_conn("workspace list", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, "/api/v1/workspaces"));
      show_list(c.output, items, kWorkspaceCols);
      return {};
    });
  });
  leaf(*ws, "get", "Show a workspace",
       [wo](const Common& c) {
         return with_conn("workspace get", c.server, true, [&](Conn& conn) -> Status {
           JZ_ASSIGN_OR_RETURN(Json out,
                               conn.api->call("GET", "/api/v1/workspaces/" + url_encode(wo->name)));
           show_object(c.output, out);
           return {};
         });
       })
      ->add_option("NAME", wo->name, "Workspace")
      ->required();
  leaf(*ws, "delete", "Delete an empty workspace (platform admins)",
       [wo](const Common& c) {
         return with_conn("workspace delete", c.server, true, [&](Conn& conn) -> Status {
           JZ_RETURN_IF_ERROR(
               conn.api->call("DELETE", "/api/v1/workspaces/" + url_encode(wo->name)).status());
           std::cout << "Deleted workspace " << wo->name << "\n";
           return {};
         });
       })
      ->add_option("NAME", wo->name, "Workspace")
      ->required();

  // Dataset roots: folders a platform admin assigns to a workspace, under which its data
  // owners register datasets.
  auto* roots = ws->add_subcommand(
      "roots", "Folders under which a workspace's data owners register datasets");
  roots->require_subcommand(1);
  auto ro = std::make_shared<NameOpts>();  // name: workspace, description: path
  auto roots_path = [ro] {
    return "/api/v1/workspaces/" + url_encode(ro->name) + "/dataset-roots";
  };
  auto* radd =
      leaf(*roots, "add",
           "Assign a folder on the server to a workspace (platform admins); a folder "
           "belongs to one workspace",
           [ro, roots_path](const Common& c) {
             return with_conn("workspace roots add", c.server, true, [&](Conn& conn) -> Status {
               Json body = {{"path", ro->description}};
               JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("POST", roots_path(), &body));
               show_object(c.output, out);
               return {};
             });
           });
  auto* rlist =
      leaf(*roots, "list", "List a workspace's dataset roots", [ro, roots_path](const Common& c) {
        return with_conn("workspace roots list", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, roots_path()));
          show_list(c.output, items, kRootCols);
          return {};
        });
      });
  auto* rremove =
      leaf(*roots, "remove",
           "Take a root away from a workspace (platform admins); registered "
           "datasets stay",
           [ro, roots_path](const Common& c) {
             return with_conn("workspace roots remove", c.server, true, [&](Conn& conn) -> Status {
               JZ_RETURN_IF_ERROR(
                   conn.api->call("DELETE", roots_path() + "?path=" + url_encode(ro->description))
                       .status());
               std::cout << "Removed root " << ro->description << " from " << ro->name << "\n";
               return {};
             });
           });
  for (auto* cmd : {radd, rlist, rremove}) {
    cmd->add_option("WORKSPACE", ro->name, "Workspace")->required();
  }
  for (auto* cmd : {radd, rremove}) {
    cmd->add_option("PATH", ro->description, "Absolute folder on the server")->required();
  }

  // ---- projects ----
  auto* pr = app.add_subcommand("project", "Manage projects (names are unique on the platform)");
  pr->require_subcommand(1);
  auto po = std::make_shared<NameOpts>();
  auto* pcreate = leaf(*pr, "create", "Create a project in a workspace", [po](const Common& c) {
    return with_conn("project create", c.server, true, [&](Conn& conn) -> Status {
      Json body = {{"name", po->name}};
      if (!po->description.empty()) body["description"] = po->description;
      JZ_ASSIGN_OR_RETURN(
          Json out,
          conn.api->call("POST", "/api/v1/workspaces/" + url_encode(po->workspace) + "/projects",
                         &body));
      show_object(c.output, out);
      return {};
    });
  });
  pcreate->add_option("NAME", po->name, "Lower-case name, 1-63 of a-z 0-9 -")->required();
  pcreate->add_option("-w,--workspace", po->workspace, "The workspace that holds it")
      ->required()
      ->option_text("WORKSPACE");
  pcreate->add_option("--description", po->description, "What it is for")->option_text("TEXT");
  leaf(*pr, "list", "List the projects you can see (in one workspace with --workspace)",
       [po](const Common& c) {
         return with_conn("project list", c.server, true, [&](Conn& conn) -> Status {
           std::string path = "/api/v1/projects";
           if (!po->workspace.empty()) path += "?workspace=" + url_encode(po->workspace);
           JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, path));
           show_list(c.output, items, kProjectCols);
           return {};
         });
       })
      ->add_option("-w,--workspace", po->workspace, "Only this workspace")
      ->option_text("WORKSPACE");
  leaf(*pr, "get", "Show a project",
       [po](const Common& c) {
         return with_conn("project get", c.server, true, [&](Conn& conn) -> Status {
           JZ_ASSIGN_OR_RETURN(Json out,
                               conn.api->call("GET", "/api/v1/projects/" + url_encode(po->name)));
           show_object(c.output, out);
           return {};
         });
       })
      ->add_option("NAME", po->name, "Project")
      ->required();
  leaf(*pr, "delete", "Delete a project",
       [po](const Common& c) {
         return with_conn("project delete", c.server, true, [&](Conn& conn) -> Status {
           JZ_RETURN_IF_ERROR(
               conn.api->call("DELETE", "/api/v1/projects/" + url_encode(po->name)).status());
           std::cout << "Deleted project " << po->name << "\n";
           return {};
         });
       })
      ->add_option("NAME", po->name, "Project")
      ->required();

  // ---- members ----
  auto* member = app.add_subcommand(
      "member", "Manage who belongs to a workspace or a project, and with which role");
  member->require_subcommand(1);
  struct MemberOpts {
    std::string username, role, workspace, project;
    Result<std::string> base() const {
      if (workspace.empty() == project.empty()) {
        return Status::invalid_argument("name the scope: --workspace WS or --project P");
      }
      return workspace.empty() ? "/api/v1/projects/" + url_encode(project) + "/members"
                               : "/api/v1/workspaces/" + url_encode(workspace) + "/members";
    }
  };
  auto mo = std::make_shared<MemberOpts>();
  auto scope_flags = [mo](CLI::App* cmd) {
    auto* w = cmd->add_option("-w,--workspace", mo->workspace, "A workspace's members")
                  ->option_text("WORKSPACE");
    auto* p =
        cmd->add_option("-p,--project", mo->project, "A project's members")->option_text("PROJECT");
    w->excludes(p);
  };
  auto* madd =
      leaf(*member, "add", "Add a member, or change the role of one", [mo](const Common& c) {
        return with_conn("member add", c.server, true, [&](Conn& conn) -> Status {
          Json body = {{"username", mo->username}, {"role", mo->role}};
          JZ_ASSIGN_OR_RETURN(std::string base, mo->base());
          JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("POST", base, &body));
          show_object(c.output, out);
          return {};
        });
      });
  madd->add_option("USERNAME", mo->username, "The user")->required();
  madd->add_option("-r,--role", mo->role, "A role of the scope (see `jizhan role list`)")
      ->required()
      ->option_text("ROLE");
  scope_flags(madd);
  auto* mlist = leaf(*member, "list", "List members", [mo](const Common& c) {
    return with_conn("member list", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(std::string base, mo->base());
      JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, base));
      show_list(c.output, items, kMemberCols);
      return {};
    });
  });
  scope_flags(mlist);
  auto* mremove = leaf(*member, "remove", "Remove a member", [mo](const Common& c) {
    return with_conn("member remove", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(std::string base, mo->base());
      JZ_RETURN_IF_ERROR(conn.api->call("DELETE", base + "/" + url_encode(mo->username)).status());
      std::cout << "Removed " << mo->username << "\n";
      return {};
    });
  });
  mremove->add_option("USERNAME", mo->username, "The user")->required();
  scope_flags(mremove);

  // ---- roles ----
  auto* role = app.add_subcommand("role", "Show roles and their permissions; make custom ones");
  role->require_subcommand(1);
  leaf(*role, "list", "List roles", [](const Common& c) {
    return with_conn("role list", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, "/api/v1/roles"));
      show_list(c.output, items,
                {{"NAME", "name"},
                 {"SCOPE", "scope"},
                 {"BUILTIN", "builtin"},
                 {"PERMISSIONS", "permissions"}});
      return {};
    });
  });
  struct RoleOpts {
    std::string name, scope = "project", workspace;
    std::vector<std::string> permissions;
  };
  auto ro2 = std::make_shared<RoleOpts>();
  auto* rcreate =
      leaf(*role, "create",
           "Make a custom role of permissions: platform admins for every workspace; a\n"
           "workspace's admins for theirs (--workspace), of permissions they hold there",
           [ro2](const Common& c) {
             return with_conn("role create", c.server, true, [&](Conn& conn) -> Status {
               Json body = {
                   {"name", ro2->name}, {"scope", ro2->scope}, {"permissions", ro2->permissions}};
               if (!ro2->workspace.empty()) body["workspace"] = ro2->workspace;
               JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("POST", "/api/v1/roles", &body));
               show_object(c.output, out);
               return {};
             });
           });
  rcreate->add_option("NAME", ro2->name, "Lower-case name")->required();
  rcreate->add_option("--scope", ro2->scope, "project (default) or workspace")
      ->check(CLI::IsMember({"project", "workspace"}));
  rcreate
      ->add_option("--permission", ro2->permissions,
                   "RESOURCE:VERB, repeated (job:get, dataset:list, project_member:*, ...)")
      ->required();
  rcreate->add_option("--workspace", ro2->workspace, "The workspace it is for");
  leaf(*role, "delete", "Delete a custom role nobody holds",
       [ro2](const Common& c) {
         return with_conn("role delete", c.server, true, [&](Conn& conn) -> Status {
           JZ_RETURN_IF_ERROR(
               conn.api->call("DELETE", "/api/v1/roles/" + url_encode(ro2->name)).status());
           std::cout << "Deleted role " << ro2->name << "\n";
           return {};
         });
       })
      ->add_option("NAME", ro2->name, "Role")
      ->required();

  // ---- tokens ----
  auto* token = app.add_subcommand("token", "Manage API tokens for scripts");
  token->require_subcommand(1);
  struct TokenOpts {
    std::string name, project, expires_in = "30d", id;
  };
  auto to = std::make_shared<TokenOpts>();
  auto* tcreate = leaf(
      *token, "create",
      "Create an API token. The secret is printed once, on standard output; store it now.",
      [to](const Common& c) {
        return with_conn("token create", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(auto ttl, parse_duration(to->expires_in));
          Json body = {{"name", to->name},
                       {"expires_in_s", static_cast<int64_t>(ttl.count() / 1000)}};
          if (!to->project.empty()) body["project"] = to->project;
          JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("POST", "/api/v1/tokens", &body));
          if (c.output == "json") {
            std::cout << out.dump(2) << "\n";
          } else {
            std::cerr << "Token " << out.value("id", "") << " (" << to->name << "), expires "
                      << out.value("expires_at", "")
                      << ". It is shown only now; use it as JIZHAN_TOKEN or a Bearer header:\n";
            std::cout << out.value("token", "") << "\n";
          }
          return {};
        });
      });
  tcreate->add_option("NAME", to->name, "What the token is for")->required();
  tcreate->add_option("-p,--project", to->project, "Limit the token to one project")
      ->option_text("PROJECT");
  tcreate->add_option("--expires-in", to->expires_in, "Lifetime, e.g. 12h, 30d (default 30d)")
      ->option_text("DURATION");
  leaf(*token, "list", "List your tokens", [](const Common& c) {
    return with_conn("token list", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, "/api/v1/tokens"));
      show_list(c.output, items, kTokenCols);
      return {};
    });
  });
  leaf(*token, "revoke", "Revoke a token at once",
       [to](const Common& c) {
         return with_conn("token revoke", c.server, true, [&](Conn& conn) -> Status {
           JZ_RETURN_IF_ERROR(
               conn.api->call("DELETE", "/api/v1/tokens/" + url_encode(to->id)).status());
           std::cout << "Revoked " << to->id << "\n";
           return {};
         });
       })
      ->add_option("ID", to->id, "Token id (tok_...), see `jizhan token list`")
      ->required();

  // ---- quotas ----
  auto* quota = app.add_subcommand("quota", "Show or change a project's quota");
  quota->require_subcommand(1);
  struct QuotaOpts {
    std::string project;
    std::map<std::string, std::string> limits;  // field -> text
  };
  auto qo = std::make_shared<QuotaOpts>();
  leaf(*quota, "get", "Show a project's quota (absent limits are unlimited)",
       [qo](const Common& c) {
         return with_conn("quota get", c.server, true, [&](Conn& conn) -> Status {
           JZ_ASSIGN_OR_RETURN(
               Json out,
               conn.api->call("GET", "/api/v1/projects/" + url_encode(qo->project) + "/quota"));
           show_object(c.output, out);
           return {};
         });
       })
      ->add_option("PROJECT", qo->project, "Project")
      ->required();
  auto* qset =
      leaf(*quota, "set",
           "Change limits of a project's quota; limits not named keep their value.\n"
           "A value is a number or 'unlimited'.",
           [qo](const Common& c) {
             return with_conn("quota set", c.server, true, [&](Conn& conn) -> Status {
               const std::string path = "/api/v1/projects/" + url_encode(qo->project) + "/quota";
               JZ_ASSIGN_OR_RETURN(Json q, conn.api->call("GET", path));
               if (qo->limits.empty()) {
                 return Status::invalid_argument(
                     "name at least one limit, e.g. --gpus 8 (see `jizhan quota set --help`)");
               }
               for (const auto& [f, text] : qo->limits) {
                 JZ_ASSIGN_OR_RETURN(q[f], limit_value("--" + f, text));
               }
               JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("PUT", path, &q));
               show_object(c.output, out);
               return {};
             });
           });
  qset->add_option("PROJECT", qo->project, "Project")->required();
  for (auto [flag, field, help] :
       {std::tuple{"--gpus", "gpus", "GPUs, whole-GPU equivalents; fractions allowed (0.5)"},
        std::tuple{"--gpu-memory-mib", "gpu_memory_mib", "GPU memory in MiB"},
        std::tuple{"--concurrent-jobs", "concurrent_jobs", "Jobs running at once"},
        std::tuple{"--cpu-cores", "cpu_cores", "CPU cores; fractions allowed"},
        std::tuple{"--memory-mib", "memory_mib", "Memory in MiB"},
        std::tuple{"--per-user-gpus", "per_user_gpus", "GPUs one user may hold in the project"},
        std::tuple{"--storage-mib", "storage_mib",
                   "Disk for job outputs, work folders, logs and uploaded datasets, in MiB"}}) {
    std::string f = field;
    qset->add_option_function<std::string>(
            flag, [qo, f](const std::string& v) { qo->limits[f] = v; }, help)
        ->option_text("N|unlimited");
  }

  // ---- audit list / export ----
  struct AuditOpts {
    std::string user, verb, resource, project, since, until, out;
    int limit = 100;
    Result<std::string> query() const {
      std::string q;
      auto add = [&q](const char* k, const std::string& v) {
        if (!v.empty()) q += std::string(q.empty() ? "?" : "&") + k + "=" + url_encode(v);
      };
      add("user", user);
      add("verb", verb);
      add("resource", resource);
      add("project", project);
      for (auto [k, text] : {std::pair{"since", &since}, std::pair{"until", &until}}) {
        if (text->empty()) continue;
        // An RFC 3339 time, or a duration meaning that long ago.
        int64_t ms;
        if (auto d = parse_duration(*text); d.ok()) {
          ms = Clock::system().now_unix_ms() - d->count();
        } else {
          auto t = parse_rfc3339(*text);
          if (!t.ok()) {
            return Status::invalid_argument(
                std::string(k == std::string("since") ? "--since" : "--until") + ": " +
                t.status().message() + ", or a duration such as 24h meaning that long ago");
          }
          ms = std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
        }
        add(k,
            format_rfc3339(Clock::WallTime(std::chrono::milliseconds(std::max<int64_t>(0, ms)))));
      }
      return q;
    }
  };
  auto ao = std::make_shared<AuditOpts>();
  auto filters = [ao](CLI::App* cmd) {
    cmd->add_option("--user", ao->user, "Only this user's records")->option_text("NAME");
    cmd->add_option("--verb", ao->verb, "create, update, delete, login, login_failed, logout ...")
        ->option_text("VERB");
    cmd->add_option("--resource", ao->resource,
                    "A resource type: workspaces, projects, members ...")
        ->option_text("TYPE");
    cmd->add_option("--project", ao->project, "Only records of this project")
        ->option_text("PROJECT");
    cmd->add_option("--since", ao->since, "From this time (RFC 3339) or this long ago (24h)")
        ->option_text("TIME");
    cmd->add_option("--until", ao->until, "Up to this time (RFC 3339) or this long ago")
        ->option_text("TIME");
  };
  auto* alist = leaf(
      audit, "list", "Query the audit trail on a server (platform admins)", [ao](const Common& c) {
        return with_conn("audit list", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(std::string q, ao->query());
          q += (q.empty() ? "?" : "&") + std::string("page_size=") + std::to_string(ao->limit);
          JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("GET", "/api/v1/audit" + q));
          show_list(c.output, out["items"], kAuditCols);
          if (out["next_page_token"].is_string() && c.output == "table") {
            std::cerr << "(more records: raise --limit, or use `jizhan audit "
                         "export`)\n";
          }
          return {};
        });
      });
  filters(alist);
  alist->add_option("--limit", ao->limit, "At most this many records, oldest first (default 100)")
      ->check(CLI::Range(1, 1000))
      ->option_text("N");
  auto* aexport = leaf(
      audit, "export",
      "Write the matching audit records as JSON lines (all pages), to --out or standard output",
      [ao](const Common& c) {
        return with_conn("audit export", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(std::string q, ao->query());
          q += (q.empty() ? "?" : "&") + std::string("format=jsonl&page_size=1000");
          std::ofstream file;
          if (!ao->out.empty()) {
            file.open(ao->out, std::ios::trunc);
            if (!file) {
              return Status::failed_precondition("cannot write " + ao->out + ": " +
                                                 errno_message(errno));
            }
          }
          std::ostream& out = ao->out.empty() ? std::cout : file;
          std::string next;
          int64_t n = 0;
          do {
            std::string path = "/api/v1/audit" + q;
            if (!next.empty()) path += "&page_token=" + next;
            JZ_ASSIGN_OR_RETURN(std::string body,
                                conn.api->get_text(path, "X-Next-Page-Token", &next));
            out << body;
            for (char ch : body) n += ch == '\n';
          } while (!next.empty());
          out.flush();
          if (!out) return Status::failed_precondition("writing the export failed");
          if (!ao->out.empty()) std::cerr << "Wrote " << n << " records to " << ao->out << "\n";
          return {};
        });
      });
  filters(aexport);
  aexport->add_option("--out", ao->out, "File to write (default: standard output)")
      ->option_text("FILE");

  // ---- events ----
  // Alerts: the rules of a project (or of the platform) as a Prometheus rule file.
  auto* alert =
      app.add_subcommand("alert", "Alert rules, receivers and deliveries (docs/ALERTS.md)");
  alert->require_subcommand(1);
  auto* arules = alert->add_subcommand("rules", "Alert rules");
  arules->require_subcommand(1);
  auto alert_project = std::make_shared<std::string>();
  auto* alert_export =
      leaf(*arules, "export",
           "Print the rules of a project (--project) or of the platform (platform admins) as a\n"
           "Prometheus rule file: custom rules with the project's matcher in every selector,\n"
           "built-in ones over jizhan_alert_events_total (the server's /metrics). `promtool\n"
           "check rules` accepts it; point Prometheus's rule_files at it and its Alertmanager\n"
           "at Jizhan (POST /api/v2/alerts) to route and deliver through Jizhan.",
           [alert_project](const Common& c) {
             const auto& ao = alert_project;
             return with_conn("alert rules export", c.server, true, [&](Conn& conn) -> Status {
               const std::string path =
                   ao->empty() ? "/api/v1/alerting/prometheus-rules"
                               : "/api/v1/projects/" + url_encode(*ao) + "/prometheus-rules";
               JZ_ASSIGN_OR_RETURN(std::string text, conn.api->get_text(path, "", nullptr));
               std::cout << text << std::flush;
               return {};
             });
           });
  alert_export->add_option("--project", *alert_project,
                           "The project (default: the platform's rules)");

  auto* events = app.add_subcommand("events", "Lifecycle events of a project's resources");
  events->require_subcommand(1);
  struct EventOpts {
    std::string project;
    bool follow = false;
    int64_t after = 0;
  };
  auto eo = std::make_shared<EventOpts>();
  auto* elist =
      leaf(*events, "list",
           "List a project's events; with --follow, keep printing new ones as they happen\n"
           "(one line each; -o json prints one JSON object per line).",
           [eo](const Common& c) {
             return with_conn("events list", c.server, true, [&](Conn& conn) -> Status {
               std::string path = "/api/v1/projects/" + url_encode(eo->project) + "/events";
               if (eo->after > 0) path += "?after=" + std::to_string(eo->after);
               if (!eo->follow) {
                 JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, path));
                 show_list(c.output, items, kEventCols);
                 return {};
               }
               return conn.api->stream(path, [&](const std::string&, const std::string& data) {
                 Json e = Json::parse(data, nullptr, false);
                 if (c.output == "json" || !e.is_object()) {
                   std::cout << data << std::endl;
                 } else {
                   std::cout << e.value("time", "") << "  " << e.value("type", "") << "  "
                             << e.value("reason", "") << "  " << e.value("resource_type", "") << "/"
                             << e.value("resource_name", "") << "  " << e.value("message", "")
                             << std::endl;
                 }
                 return static_cast<bool>(std::cout);
               });
             });
           });
  elist->add_option("PROJECT", eo->project, "Project")->required();
  elist->add_flag("-f,--follow", eo->follow, "Stream new events until interrupted");
  elist->add_option("--after", eo->after, "Only events after this seq number")->option_text("SEQ");

  struct UsageOpts {
    std::string from, to, by = "project", project, workspace, user;
    bool csv = false;
  };
  auto usage_opts = std::make_shared<UsageOpts>();
  auto* usage = leaf(
      app, "usage",
      "GPU-hours (shares by their fraction), GPU-memory, CPU-core and memory GiB-hours and\n"
      "cost of the projects you see, from the job history, grouped as you ask:\n"
      "  jizhan usage --from 2026-12-01 --to 2026-12-08 --by project,day\n"
      "  jizhan usage --by user --project vision --csv > usage.csv",
      [uo = usage_opts](const Common& c) {
        return with_conn("usage", c.server, true, [&](Conn& conn) -> Status {
          std::string path = "/api/v1/usage?by=" + url_encode(uo->by);
          for (const auto& [k, v] :
               std::vector<std::pair<const char*, std::string>>{{"from", uo->from},
                                                                {"to", uo->to},
                                                                {"project", uo->project},
                                                                {"workspace", uo->workspace},
                                                                {"user", uo->user}}) {
            if (!v.empty()) path += std::string("&") + k + "=" + url_encode(v);
          }
          if (uo->csv) {
            JZ_ASSIGN_OR_RETURN(std::string text,
                                conn.api->get_text(path + "&format=csv", "", nullptr));
            std::cout << text;
            return {};
          }
          JZ_ASSIGN_OR_RETURN(Json r, conn.api->call("GET", path));
          if (c.output == "json") {
            std::cout << r.dump(2) << "\n";
            return {};
          }
          std::vector<Column> cols;
          for (const auto& d : r["by"]) {
            std::string h = d.get<std::string>();
            for (auto& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            cols.push_back({h, d.get<std::string>()});
          }
          const std::string currency = r.value("currency", "");
          for (const auto& [h, k] : std::vector<std::pair<std::string, std::string>>{
                   {"GPU-H", "gpu_hours"},
                   {"GPU-MEM-GIB-H", "gpu_memory_gib_hours"},
                   {"CPU-CORE-H", "cpu_core_hours"},
                   {"MEM-GIB-H", "memory_gib_hours"},
                   {"COST" + (currency.empty() ? "" : " (" + currency + ")"), "cost"}}) {
            cols.push_back({h, k});
          }
          Json rows = r["rows"];
          Json total = r["total"];
          if (!cols.empty() && !r["by"].empty()) total[cols[0].key] = "TOTAL";
          rows.push_back(total);
          for (auto& row : rows) {
            for (const char* k : {"gpu_hours", "gpu_memory_gib_hours", "cpu_core_hours",
                                  "memory_gib_hours", "cost"}) {
              char buf[32];
              std::snprintf(buf, sizeof buf, "%.2f", row.value(k, 0.0));
              row[k] = buf;
            }
          }
          std::cout << "usage from " << r.value("from", "") << " to " << r.value("to", "") << "\n";
          print_table(rows, cols);
          return {};
        });
      });
  usage
      ->add_option("--from", usage_opts->from,
                   "First day (2026-12-01) or time; default 30 days ago")
      ->option_text("DAY");
  usage->add_option("--to", usage_opts->to, "The day after the last, or a time; default tomorrow")
      ->option_text("DAY");
  usage
      ->add_option("--by", usage_opts->by,
                   "job, user, project, workspace, day, pool (comma-separated)")
      ->option_text("DIMS");
  usage->add_option("--project", usage_opts->project, "Only this project");
  usage->add_option("--workspace", usage_opts->workspace, "Only this workspace's projects");
  usage->add_option("--user", usage_opts->user, "Only this user's jobs");
  usage->add_flag("--csv", usage_opts->csv, "Print CSV (for spreadsheets) instead of a table");
  job_commands(app);
  metrics_commands(app);
  autotest_commands(app);
  store_commands(app);
}

namespace {

const std::vector<Column> kJobCols = {
    {"ID", "id"},          {"NAME", "name"},          {"KIND", "kind"},
    {"USER", "user"},      {"STATE", "state"},        {"REASON", "reason"},
    {"EXIT", "exit_code"}, {"CREATED", "created_at"}, {"MESSAGE", "message"}};
const std::vector<Column> kJobEventCols = {
    {"SEQ", "seq"},       {"TIME", "time"},      {"FROM", "from"},      {"TO", "to"},
    {"REASON", "reason"}, {"EXIT", "exit_code"}, {"MESSAGE", "message"}};
const std::vector<Column> kDatasetCols = {{"NAME", "name"},
                                          {"LEVEL", "security_level"},
                                          {"PATH", "path"},
                                          {"CREATED BY", "created_by"},
                                          {"CREATED", "created_at"}};

bool terminal_state(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "cancelled" || s == "preempted" || s == "lost";
}

// Polls until the job has ended or `timeout_s` passes (0: no limit); prints each change.
Result<Json> wait_for_job(ApiClient& api, const std::string& path, int64_t timeout_s) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::string last;
  for (;;) {
    JZ_ASSIGN_OR_RETURN(Json j, api.call("GET", path));
    const std::string state = json::string_or(j, "state");
    if (state != last) {
      std::cerr << state << (json::string_or(j, "message").empty() ? "" : ": ")
                << json::string_or(j, "message") << "\n";
      last = state;
    }
    if (terminal_state(state)) return j;
    if (timeout_s > 0 && std::chrono::steady_clock::now() > until) {
      return Status::deadline_exceeded("job is still " + state + " after " +
                                       std::to_string(timeout_s) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// The exit status of `job wait`/`submit --wait`: 0 when the job succeeded.
int job_exit(const Json& j) { return json::string_or(j, "state") == "succeeded" ? 0 : 1; }

}  // namespace

void ClientCommands::job_commands(CLI::App& app) {
  auto* job =
      app.add_subcommand("job", "Submit and manage jobs (training, evaluation, dev environments)");
  job->require_subcommand(1);
  struct JobOpts {
    std::string project, id, file, name, kind, restart, state, user;
    std::vector<std::string> command, datasets, env, inputs;
    std::string gpus, cpu, code, path, to, reason;
    int64_t memory_mib = 0, priority = 0, runtime_limit = 0, max_restarts = -1, port = 0,
            timeout = 0, attempt = 0, tail = 0;
    std::string grep, regex, since, until, stream;
    bool wait = false, not_preemptible = false, follow = false, stats = false, raw = false;
  };
  auto o = std::make_shared<JobOpts>();
  auto job_path = [o] {
    return "/api/v1/projects/" + url_encode(o->project) + "/jobs/" + url_encode(o->id);
  };
  auto* submit = leaf(
      *job, "submit",
      "Submit a job: jizhan job submit PROJECT --name NAME [options] -- COMMAND ARGS...\n"
      "--file JOB.json gives the whole body instead (flags then override its fields).\n"
      "With --wait, follows it to the end and exits 0 only when it succeeded.",
      [o](const Common& c) {
        return with_conn("job submit", c.server, true, [&](Conn& conn) -> Status {
          Json body = Json::object();
          if (!o->file.empty()) {
            std::ifstream in(o->file);
            if (!in) return Status::not_found("cannot read --file '" + o->file + "'");
            std::stringstream ss;
            ss << in.rdbuf();
            JZ_ASSIGN_OR_RETURN(body, json::parse(ss.str(), o->file));
            if (!body.is_object()) return Status::invalid_argument(o->file + ": not an object");
          }
          if (!o->name.empty()) body["name"] = o->name;
          if (!o->command.empty()) body["command"] = o->command;
          if (!body.contains("name") && !o->command.empty()) body["name"] = o->command.front();
          if (!o->kind.empty()) body["kind"] = o->kind;
          if (!o->datasets.empty()) body["datasets"] = o->datasets;
          if (!o->code.empty()) body["code"] = o->code;
          if (!o->inputs.empty()) body["inputs"] = o->inputs;
          for (const auto& kv : o->env) {
            const auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) {
              return Status::invalid_argument("--env '" + kv + "' must be NAME=VALUE");
            }
            body["env"][kv.substr(0, eq)] = kv.substr(eq + 1);
          }
          for (auto [flag, text, key] :
               {std::tuple{"--gpus", &o->gpus, "gpus"}, std::tuple{"--cpu", &o->cpu, "cpu"}}) {
            if (text->empty()) continue;
            char* end = nullptr;
            const double v = std::strtod(text->c_str(), &end);
            if (*end) return Status::invalid_argument(std::string(flag) + " must be a number");
            body["resources"][key] = v;
          }
          if (o->memory_mib > 0) body["resources"]["memory_mib"] = o->memory_mib;
          if (o->priority != 0) body["priority"] = o->priority;
          if (o->not_preemptible) body["preemptible"] = false;
          if (o->runtime_limit > 0) body["runtime_limit_s"] = o->runtime_limit;
          if (!o->restart.empty()) body["restart_policy"] = o->restart;
          if (o->max_restarts >= 0) body["max_restarts"] = o->max_restarts;
          if (o->port > 0) body["port"] = o->port;
          if (!body.contains("command")) {
            return Status::invalid_argument("give the command after --, e.g. `jizhan job submit " +
                                            o->project + " --name train -- python3 train.py`");
          }
          const std::string base = "/api/v1/projects/" + url_encode(o->project) + "/jobs";
          JZ_ASSIGN_OR_RETURN(Json j, conn.api->call("POST", base, &body));
          if (!o->wait) {
            show_object(c.output, j);
            return {};
          }
          std::cerr << "submitted " << json::string_or(j, "id") << "\n";
          JZ_ASSIGN_OR_RETURN(
              Json end, wait_for_job(*conn.api, base + "/" + json::string_or(j, "id"), o->timeout));
          show_object(c.output, end);
          if (job_exit(end) != 0) {
            return Status::failed_precondition("job " + json::string_or(end, "id") + " " +
                                               json::string_or(end, "state"));
          }
          return {};
        });
      });
  submit->add_option("PROJECT", o->project, "Project")->required();
  submit->add_option("COMMAND", o->command, "The program and its arguments (after --)");
  submit->add_option("--name", o->name, "Job name (default: the program)");
  submit->add_option("-f,--file", o->file, "A job body in JSON (see docs/JOBS.md)")
      ->option_text("JOB.json");
  submit->add_option("--kind", o->kind, "train (default), eval or devenv");
  submit->add_option("--gpus", o->gpus, "Whole GPUs, or a fraction below 1 for a share")
      ->option_text("N");
  submit->add_option("--cpu", o->cpu, "CPU cores (fractions allowed; default 1)")->option_text("N");
  submit->add_option("--memory-mib", o->memory_mib, "Memory limit (default 1024)")
      ->option_text("MIB");
  submit->add_option("--dataset", o->datasets, "Mount this dataset read-only at /data/NAME")
      ->option_text("NAME");
  submit->add_option("--env", o->env, "An environment variable")->option_text("NAME=VALUE");
  submit
      ->add_option("--code", o->code,
                   "Run this branch, tag or commit of the project's repository (read-only at "
                   "/code; the job records the commit)")
      ->option_text("REF");
  submit
      ->add_option("--input", o->inputs,
                   "Read this ended job's outputs (read-only at /inputs/ID; held outputs "
                   "hold this job's too)")
      ->option_text("JOB");
  submit->add_option("--priority", o->priority, "-1000 to 1000 (default 0)");
  submit->add_flag("--not-preemptible", o->not_preemptible, "Never preempt this job");
  submit->add_option("--runtime-limit", o->runtime_limit, "End it after this many seconds")
      ->option_text("S");
  submit->add_option("--restart", o->restart, "never (default) or on_failure");
  submit->add_option("--max-restarts", o->max_restarts, "With on_failure (default 3)");
  submit->add_option("--port", o->port, "devenv: the HTTP port it serves inside its sandbox");
  submit->add_flag("--wait", o->wait, "Follow the job to its end; exit 0 only if it succeeded");
  submit->add_option("--timeout", o->timeout, "With --wait: give up after S seconds")
      ->option_text("S");

  auto* list = leaf(*job, "list", "List a project's jobs, newest first", [o](const Common& c) {
    return with_conn("job list", c.server, true, [&](Conn& conn) -> Status {
      std::string q;
      for (auto [k, v] : {std::pair{"state", &o->state}, std::pair{"kind", &o->kind},
                          std::pair{"user", &o->user}}) {
        if (!v->empty()) q += std::string(q.empty() ? "?" : "&") + k + "=" + url_encode(*v);
      }
      JZ_ASSIGN_OR_RETURN(
          Json items,
          list_all(*conn.api, "/api/v1/projects/" + url_encode(o->project) + "/jobs" + q));
      show_list(c.output, items, kJobCols);
      return {};
    });
  });
  list->add_option("PROJECT", o->project, "Project")->required();
  list->add_option("--state", o->state, "Only jobs in this state");
  list->add_option("--kind", o->kind, "Only jobs of this kind");
  list->add_option("--user", o->user, "Only this user's jobs");

  auto add_id = [o](CLI::App* cmd) {
    cmd->add_option("PROJECT", o->project, "Project")->required();
    cmd->add_option("ID", o->id, "Job id (job_...)")->required();
  };
  add_id(leaf(*job, "get", "Show a job", [o, job_path](const Common& c) {
    return with_conn("job get", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json j, conn.api->call("GET", job_path()));
      show_object(c.output, j);
      return {};
    });
  }));
  add_id(leaf(*job, "history", "A job's changes of state, with reasons and exit codes",
              [o, job_path](const Common& c) {
                return with_conn("job history", c.server, true, [&](Conn& conn) -> Status {
                  JZ_ASSIGN_OR_RETURN(Json j, conn.api->call("GET", job_path() + "/events"));
                  show_list(c.output, j["items"], kJobEventCols);
                  return {};
                });
              }));
  auto* logs = leaf(
      *job, "logs",
      "Print a job's log (stdout and stderr, as its dataset's log policy lets them through).\n"
      "-f follows it live until the job ends. What the policy withheld is counted on stderr\n"
      "(--stats prints the counts alone).",
      [o, job_path](const Common& c) {
        return with_conn("job logs", c.server, true, [&](Conn& conn) -> Status {
          // A job's output is the job's: its escape sequences (colours, OSC 52 writing the
          // clipboard, titles) must not drive the reader's terminal unless asked (--raw).
          const bool raw = o->raw;
          auto shown = [raw](const std::string& text) {
            return raw ? text : escape_controls(text, {.keep_tab = true});
          };
          std::vector<std::string> params;
          if (o->attempt > 0) params.push_back("attempt=" + std::to_string(o->attempt));
          if (o->stats) {
            std::string path = job_path() + "/logs/stats";
            if (!params.empty()) path += "?" + params[0];
            JZ_ASSIGN_OR_RETURN(Json j, conn.api->call("GET", path));
            show_object(c.output, j);
            return {};
          }
          if (o->tail > 0) params.push_back("tail=" + std::to_string(o->tail));
          if (!o->grep.empty()) params.push_back("q=" + url_encode(o->grep));
          if (!o->regex.empty()) params.push_back("regex=" + url_encode(o->regex));
          if (!o->since.empty()) params.push_back("since=" + url_encode(o->since));
          if (!o->until.empty()) params.push_back("until=" + url_encode(o->until));
          if (!o->stream.empty()) params.push_back("stream=" + url_encode(o->stream));
          if (o->follow) params.push_back("follow=true");
          std::string path = job_path() + "/logs";
          for (size_t i = 0; i < params.size(); ++i) path += (i ? "&" : "?") + params[i];
          Json stats;
          if (o->follow) {
            JZ_RETURN_IF_ERROR(
                conn.api->stream(path, [&](const std::string& event, const std::string& data) {
                  auto j = json::parse(data, "log event");
                  if (!j.ok()) return true;
                  if (event == "line") {
                    std::cout << shown(json::string_or(*j, "text"));
                    if (!(*j)["cut"].is_boolean() || !(*j)["cut"].get<bool>()) std::cout << '\n';
                    std::cout << std::flush;
                  } else if (event == "end") {
                    stats = (*j)["stats"];
                    return false;
                  }
                  return true;
                }));
          } else {
            // Page by page (10,000 lines or 64 MiB each), so a log of any size streams
            // through in bounded memory; a tail is one page.
            const std::string base = path + (params.empty() ? "?" : "&") + "format=json";
            int64_t from = 1;
            for (;;) {
              std::string page_path = base + "&limit=10000";
              if (o->tail == 0) page_path += "&from=" + std::to_string(from);
              JZ_ASSIGN_OR_RETURN(Json page, conn.api->call("GET", page_path));
              const Json items = page["items"];
              for (const auto& r : items) {
                std::cout << shown(json::string_or(r, "text"));
                if (!r["cut"].is_boolean() || !r["cut"].get<bool>()) std::cout << '\n';
              }
              std::cout << std::flush;
              const int64_t next =
                  page["next_seq"].is_number_integer() ? page["next_seq"].get<int64_t>() : 0;
              const int64_t last =
                  page["last_seq"].is_number_integer() ? page["last_seq"].get<int64_t>() : 0;
              if (o->tail > 0 || items.empty() || next <= from || next > last) break;
              from = next;
            }
            std::string spath = job_path() + "/logs/stats";
            if (o->attempt > 0) spath += "?attempt=" + std::to_string(o->attempt);
            auto s = conn.api->call("GET", spath);
            if (s.ok()) stats = *s;
          }
          // What the policy withheld: counts only (never content), on stderr.
          if (stats.is_object() && stats["withheld"].is_object() && !stats["withheld"].empty()) {
            int64_t lines = 0;
            std::string by;
            for (const auto& [reason, w] : stats["withheld"].items()) {
              const int64_t n = w["lines"].is_number_integer() ? w["lines"].get<int64_t>() : 0;
              lines += n;
              by += (by.empty() ? "" : ", ") + reason + " " + std::to_string(n);
            }
            std::cerr << "jizhan: " << lines << " line(s) withheld by the "
                      << json::string_or(stats, "level") << " log policy (" << by << ")\n";
          }
          return {};
        });
      });
  add_id(logs);
  logs->add_option("--attempt", o->attempt, "An earlier attempt (default the latest)");
  logs->add_flag("-f,--follow", o->follow, "Follow the log live until the job ends");
  logs->add_option("--tail", o->tail, "Only the last N lines");
  logs->add_option("--grep", o->grep, "Only lines containing this text");
  logs->add_option("--regex", o->regex, "Only lines matching this RE2 expression");
  logs->add_option("--since", o->since, "Lines from this time on (RFC 3339)");
  logs->add_option("--until", o->until, "Lines up to this time (RFC 3339)");
  logs->add_option("--stream", o->stream, "stdout or stderr only");
  logs->add_flag("--stats", o->stats, "Print what passed and what was withheld, by reason");
  logs->add_flag("--raw", o->raw,
                 "Print lines byte for byte. By default control characters (terminal escape\n"
                 "sequences such as colours or OSC 52 clipboard writes) are shown as \\x1b etc.");
  auto* cancel = leaf(
      *job, "cancel", "Cancel a job: SIGTERM to all its processes, SIGKILL after the grace period",
      [o, job_path](const Common& c) {
        return with_conn("job cancel", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(Json j, conn.api->call("POST", job_path() + "/cancel"));
          if (o->wait) {
            JZ_ASSIGN_OR_RETURN(j, wait_for_job(*conn.api, job_path(), o->timeout));
          }
          show_object(c.output, j);
          return {};
        });
      });
  add_id(cancel);
  cancel->add_flag("--wait", o->wait, "Wait until it has ended");
  add_id(leaf(*job, "retry", "Run an ended job again (a dev environment resumes its folder)",
              [o, job_path](const Common& c) {
                return with_conn("job retry", c.server, true, [&](Conn& conn) -> Status {
                  JZ_ASSIGN_OR_RETURN(Json j, conn.api->call("POST", job_path() + "/retry"));
                  show_object(c.output, j);
                  return {};
                });
              }));
  add_id(leaf(
      *job, "outputs",
      "What a job left in /output: state (open, held, released, expired), files and "
      "sizes (hashes where you may download), the latest release request",
      [o, job_path](const Common& c) {
        return with_conn("job outputs", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(Json summary, conn.api->call("GET", job_path() + "/outputs"));
          JZ_ASSIGN_OR_RETURN(Json files, list_all(*conn.api, job_path() + "/outputs/files"));
          if (c.output == "json") {
            summary["items"] = files;
            show_object(c.output, summary);
            return {};
          }
          std::cout << "state: " << summary.value("state", "") << " (read "
                    << summary.value("level", "") << " data)\n";
          if (summary.value("state", "") == "held") {
            std::cout << "held: they leave when a data owner approves a release "
                         "(jizhan job release)\n";
          }
          show_list(c.output, files, {{"PATH", "path"}, {"SIZE", "size"}, {"SHA256", "sha256"}});
          return {};
        });
      }));
  auto* download = leaf(
      *job, "download", "Download one output file of a job (held outputs: data owners only)",
      [o, job_path](const Common& c) {
        return with_conn("job download", c.server, true, [&](Conn& conn) -> Status {
          std::string encoded;
          for (size_t start = 0; start <= o->path.size();) {
            const size_t slash = o->path.find('/', start);
            const size_t end = slash == std::string::npos ? o->path.size() : slash;
            encoded += (start == 0 ? "" : "/") + url_encode(o->path.substr(start, end - start));
            start = end + 1;
          }
          std::string dest = o->to;
          if (dest.empty()) dest = o->path.substr(o->path.rfind('/') + 1);
          JZ_ASSIGN_OR_RETURN(int64_t n,
                              conn.api->download(job_path() + "/outputs/files/" + encoded, dest));
          std::cerr << "wrote " << n << " bytes to " << dest << "\n";
          return {};
        });
      });
  add_id(download);
  download->add_option("PATH", o->path, "The file, as `jizhan job outputs` lists it")->required();
  download->add_option("--to", o->to, "Where to write it (default: its name, here)")
      ->option_text("FILE");
  auto* release =
      leaf(*job, "release", "Ask the project's data owners to release a job's held outputs",
           [o, job_path](const Common& c) {
             return with_conn("job release", c.server, true, [&](Conn& conn) -> Status {
               Json body = {{"reason", o->reason}};
               JZ_ASSIGN_OR_RETURN(Json r,
                                   conn.api->call("POST", job_path() + "/outputs/release", &body));
               show_object(c.output, r);
               return {};
             });
           });
  add_id(release);
  release->add_option("--reason", o->reason, "What the files are and why they should leave")
      ->required();
  auto* wait =
      leaf(*job, "wait", "Wait for a job to end; exit 0 only when it succeeded",
           [o, job_path](const Common& c) {
             int code = 1;
             int rc = with_conn("job wait", c.server, true, [&](Conn& conn) -> Status {
               JZ_ASSIGN_OR_RETURN(Json j, wait_for_job(*conn.api, job_path(), o->timeout));
               show_object(c.output, j);
               code = job_exit(j);
               return {};
             });
             return rc != 0 ? rc : code;
           });
  add_id(wait);
  wait->add_option("--timeout", o->timeout, "Give up after S seconds (exit 1)")->option_text("S");

  // ---- release reviews (data owners) ----
  auto* rel = app.add_subcommand(
      "release", "Review requests to release held job outputs (the project's data owners)");
  rel->require_subcommand(1);
  struct ReleaseOpts {
    std::string project, id, state = "pending", comment;
  };
  auto ro = std::make_shared<ReleaseOpts>();
  auto* rlist = leaf(
      *rel, "list", "A project's release requests (default: those pending)", [ro](const Common& c) {
        return with_conn("release list", c.server, true, [&](Conn& conn) -> Status {
          std::string path = "/api/v1/projects/" + url_encode(ro->project) + "/releases";
          if (!ro->state.empty() && ro->state != "all") path += "?state=" + url_encode(ro->state);
          JZ_ASSIGN_OR_RETURN(Json items, list_all(*conn.api, path));
          show_list(c.output, items,
                    {{"ID", "id"},
                     {"JOB", "job_id"},
                     {"STATE", "state"},
                     {"REQUESTER", "requester"},
                     {"REASON", "reason"},
                     {"REVIEWER", "reviewer"}});
          return {};
        });
      });
  rlist->add_option("PROJECT", ro->project, "Project")->required();
  rlist->add_option("--state", ro->state,
                    "pending (default), approved, refused, superseded or all");
  for (const bool approve : {true, false}) {
    auto* cmd =
        leaf(*rel, approve ? "approve" : "refuse",
             approve ? "Approve a release request: the job's outputs may be downloaded"
                     : "Refuse a release request: the job's outputs stay held",
             [ro, approve](const Common& c) {
               return with_conn(approve ? "release approve" : "release refuse", c.server, true,
                                [&](Conn& conn) -> Status {
                                  Json body = {{"comment", ro->comment}};
                                  JZ_ASSIGN_OR_RETURN(
                                      Json r,
                                      conn.api->call("POST",
                                                     "/api/v1/projects/" + url_encode(ro->project) +
                                                         "/releases/" + url_encode(ro->id) +
                                                         (approve ? "/approve" : "/refuse"),
                                                     &body));
                                  show_object(c.output, r);
                                  return {};
                                });
             });
    cmd->add_option("PROJECT", ro->project, "Project")->required();
    cmd->add_option("ID", ro->id, "Release request id (rel_...)")->required();
    cmd->add_option("--comment", ro->comment, "Shown to the requester");
  }

  // ---- datasets ----
  auto* dataset = app.add_subcommand("dataset", "Register and inspect datasets (data owners)");
  dataset->require_subcommand(1);
  struct DatasetOpts {
    std::string project, name, path, level = "internal";
  };
  auto d = std::make_shared<DatasetOpts>();
  auto ds_path = [d] {
    return "/api/v1/projects/" + url_encode(d->project) + "/datasets/" + url_encode(d->name);
  };
  auto add_name = [d](CLI::App* cmd) {
    cmd->add_option("PROJECT", d->project, "Project")->required();
    cmd->add_option("NAME", d->name, "Dataset name")->required();
  };
  auto* create =
      leaf(*dataset, "create", "Register a folder on the server as a dataset of the project",
           [d](const Common& c) {
             return with_conn("dataset create", c.server, true, [&](Conn& conn) -> Status {
               Json body = {{"name", d->name}, {"path", d->path}, {"security_level", d->level}};
               JZ_ASSIGN_OR_RETURN(
                   Json out,
                   conn.api->call(
                       "POST", "/api/v1/projects/" + url_encode(d->project) + "/datasets", &body));
               show_object(c.output, out);
               return {};
             });
           });
  add_name(create);
  create->add_option("--path", d->path, "The folder on the server")->required();
  create->add_option("--level", d->level, "open, internal (default) or secret")
      ->check(CLI::IsMember({"open", "internal", "secret"}));
  auto* dlist = leaf(*dataset, "list", "A project's datasets", [d](const Common& c) {
    return with_conn("dataset list", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(
          Json items,
          list_all(*conn.api, "/api/v1/projects/" + url_encode(d->project) + "/datasets"));
      show_list(c.output, items, kDatasetCols);
      return {};
    });
  });
  dlist->add_option("PROJECT", d->project, "Project")->required();
  add_name(leaf(*dataset, "get", "Show a dataset", [ds_path](const Common& c) {
    return with_conn("dataset get", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("GET", ds_path()));
      show_object(c.output, out);
      return {};
    });
  }));
  add_name(
      leaf(*dataset, "delete", "Unregister a dataset (its files stay)", [ds_path](const Common& c) {
        return with_conn("dataset delete", c.server, true, [&](Conn& conn) -> Status {
          JZ_RETURN_IF_ERROR(conn.api->call("DELETE", ds_path()).status());
          std::cout << "deleted\n";
          return {};
        });
      }));
  add_name(
      leaf(*dataset, "files", "List a dataset's files (data owners)", [ds_path](const Common& c) {
        return with_conn("dataset files", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("GET", ds_path() + "/files"));
          show_list(c.output, out["items"], {{"PATH", "path"}, {"SIZE", "size"}});
          return {};
        });
      }));

  // ---- dataset versions ----
  struct VersionOpts {
    std::string message;
    std::vector<std::string> tags, splits;
    bool tag_by_folder = false;
    int64_t number = 0;
    std::string split, tag;
  };
  auto vo = std::make_shared<VersionOpts>();
  auto* snapshot = leaf(
      *dataset, "snapshot",
      "Make a version of the dataset's folder as it is now: each file stored once, so a version "
      "costs only what it adds; unchanged files keep their split and tags",
      [ds_path, vo](const Common& c) {
        return with_conn("dataset snapshot", c.server, true, [&](Conn& conn) -> Status {
          Json body = {{"message", vo->message}, {"tag_by_folder", vo->tag_by_folder}};
          if (!vo->tags.empty()) body["tags"] = vo->tags;
          if (!vo->splits.empty()) {
            body["splits"] = Json::object();
            for (const auto& kv : vo->splits) {
              const size_t eq = kv.find('=');
              double share = 0;
              const char* end = kv.data() + kv.size();
              if (eq == std::string::npos ||
                  std::from_chars(kv.data() + eq + 1, end, share).ptr != end ||
                  eq + 1 == kv.size()) {
                return Status::invalid_argument("--split '" + kv +
                                                "' must be NAME=SHARE, e.g. train=0.8");
              }
              body["splits"][kv.substr(0, eq)] = share;
            }
          }
          JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("POST", ds_path() + "/versions", &body));
          show_object(c.output, out);
          return {};
        });
      });
  add_name(snapshot);
  snapshot->add_option("-m,--message", vo->message, "What this version is");
  snapshot->add_option("--tag", vo->tags, "A tag for every file new in this version (repeat)");
  snapshot->add_flag("--tag-by-folder", vo->tag_by_folder,
                     "Tag each new file with its top folder's name");
  snapshot->add_option("--split", vo->splits,
                       "NAME=SHARE for new files, shares summing to 1 (repeat: --split train=0.8 "
                       "--split val=0.2); default: by the top folder (train, val, test)");
  add_name(
      leaf(*dataset, "versions", "A dataset's versions, newest first", [ds_path](const Common& c) {
        return with_conn("dataset versions", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("GET", ds_path() + "/versions"));
          show_list(c.output, out["items"],
                    {{"VERSION", "number"},
                     {"FILES", "files"},
                     {"BYTES", "bytes"},
                     {"NEW_BYTES", "new_bytes"},
                     {"ADDED", "added"},
                     {"REMOVED", "removed"},
                     {"CHANGED", "changed"},
                     {"BY", "created_by"},
                     {"MESSAGE", "message"}});
          return {};
        });
      }));
  auto* vfiles = leaf(
      *dataset, "version-files", "A version's files with their splits and tags (data owners)",
      [ds_path, vo](const Common& c) {
        return with_conn("dataset version-files", c.server, true, [&](Conn& conn) -> Status {
          std::string q;
          if (!vo->split.empty()) q += "&split=" + url_encode(vo->split);
          if (!vo->tag.empty()) q += "&tag=" + url_encode(vo->tag);
          JZ_ASSIGN_OR_RETURN(
              Json items,
              list_all(*conn.api, ds_path() + "/versions/" + std::to_string(vo->number) + "/files" +
                                      (q.empty() ? "" : "?" + q.substr(1))));
          for (auto& f : items) {
            std::string tags;
            for (const auto& t : f["tags"])
              tags += (tags.empty() ? "" : ",") + t.get<std::string>();
            f["tag_list"] = tags;
          }
          show_list(c.output, items,
                    {{"PATH", "path"}, {"SIZE", "size"}, {"SPLIT", "split"}, {"TAGS", "tag_list"}});
          return {};
        });
      });
  add_name(vfiles);
  vfiles->add_option("VERSION", vo->number, "Version number")
      ->required()
      ->check(CLI::PositiveNumber);
  vfiles->add_option("--split", vo->split, "Only this split");
  vfiles->add_option("--tag", vo->tag, "Only files with this tag");
  auto* vdelete = leaf(
      *dataset, "version-delete", "Delete a version; the files no other version holds go with it",
      [ds_path, vo](const Common& c) {
        return with_conn("dataset version-delete", c.server, true, [&](Conn& conn) -> Status {
          JZ_RETURN_IF_ERROR(
              conn.api->call("DELETE", ds_path() + "/versions/" + std::to_string(vo->number))
                  .status());
          std::cout << "deleted\n";
          return {};
        });
      });
  add_name(vdelete);
  vdelete->add_option("VERSION", vo->number, "Version number")
      ->required()
      ->check(CLI::PositiveNumber);

  for (const char* what : {"archive", "restore"}) {
    const std::string verb = what;
    auto* cmd = leaf(
        *dataset, "version-" + verb,
        verb == "archive"
            ? "Archive a version (not the newest): its files move to the archive store and no "
              "job can mount it until it is restored"
            : "Restore an archived version: its files come back, each checked against its "
              "SHA-256, within the project's storage quota",
        [ds_path, vo, verb](const Common& c) {
          return with_conn("dataset version-" + verb, c.server, true, [&](Conn& conn) -> Status {
            JZ_ASSIGN_OR_RETURN(
                Json out, conn.api->call("POST", ds_path() + "/versions/" +
                                                     std::to_string(vo->number) + "/" + verb));
            show_object(c.output, out);
            return {};
          });
        });
    add_name(cmd);
    cmd->add_option("VERSION", vo->number, "Version number")
        ->required()
        ->check(CLI::PositiveNumber);
  }

  // ---- converting a version's annotations on the platform (a job) ----
  struct ConvertOpts {
    std::string from, to, input, output, images;
  };
  auto co = std::make_shared<ConvertOpts>();
  auto* conv = leaf(
      *dataset, "convert",
      "Convert a version's annotations between coco, voc, yolo and json on the platform, as a "
      "job in the project's sandbox; the next version holds the converted files",
      [ds_path, vo, co](const Common& c) {
        return with_conn("dataset convert", c.server, true, [&](Conn& conn) -> Status {
          Json body = {{"from", co->from}, {"to", co->to}, {"input", co->input}};
          if (!co->output.empty()) body["output"] = co->output;
          if (!co->images.empty()) body["images"] = co->images;
          JZ_ASSIGN_OR_RETURN(
              Json out,
              conn.api->call("POST",
                             ds_path() + "/versions/" + std::to_string(vo->number) + "/conversions",
                             &body));
          show_object(c.output, out);
          return {};
        });
      });
  add_name(conv);
  conv->add_option("VERSION", vo->number, "Version number")->required()->check(CLI::PositiveNumber);
  const std::vector<std::string> formats = {"coco", "voc", "yolo", "json"};
  conv->add_option("--from", co->from, "coco, voc, yolo or json")
      ->required()
      ->check(CLI::IsMember(formats));
  conv->add_option("--to", co->to, "coco, voc, yolo or json")
      ->required()
      ->check(CLI::IsMember(formats));
  conv->add_option("--input", co->input,
                   "In the version: the COCO .json file, or the folder of the others")
      ->required();
  conv->add_option("--into", co->output, "The new version's folder for them (default labels/TO)");
  conv->add_option("--images", co->images, "--from yolo: the images' folder in the version");
  add_name(leaf(
      *dataset, "conversions", "A dataset's conversions, newest first", [ds_path](const Common& c) {
        return with_conn("dataset conversions", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("GET", ds_path() + "/conversions"));
          show_list(c.output, out["items"],
                    {{"ID", "id"},
                     {"VERSION", "version"},
                     {"STATE", "state"},
                     {"MADE", "result_version"},
                     {"MESSAGE", "message"}});
          return {};
        });
      }));

  // ---- lifecycle rules (docs/DATA.md "Lifecycle") ----
  auto rules_file = std::make_shared<std::string>();
  add_name(leaf(*dataset, "lifecycle",
                "A dataset's lifecycle rules, in the order they are read, and its last run",
                [ds_path](const Common& c) {
                  return with_conn("dataset lifecycle", c.server, true, [&](Conn& conn) -> Status {
                    JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("GET", ds_path() + "/lifecycle"));
                    show_object(c.output, out);
                    return {};
                  });
                }));
  auto* lset = leaf(
      *dataset, "lifecycle-set",
      "Replace a dataset's lifecycle rules with those of a JSON file ({\"rules\": [{\"action\": "
      "\"delete\", \"tag\": \"background\", \"after_days\": 90}, ...], \"automatic\": false}; - "
      "reads standard input)",
      [ds_path, rules_file](const Common& c) {
        return with_conn("dataset lifecycle-set", c.server, true, [&](Conn& conn) -> Status {
          std::string text;
          if (*rules_file == "-") {
            text.assign(std::istreambuf_iterator<char>(std::cin), {});
          } else {
            JZ_ASSIGN_OR_RETURN(text, read_file(*rules_file));
          }
          JZ_ASSIGN_OR_RETURN(Json body, json::parse(text, *rules_file));
          JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("PUT", ds_path() + "/lifecycle", &body));
          show_object(c.output, out);
          return {};
        });
      });
  add_name(lset);
  lset->add_option("FILE", *rules_file, "The rules as JSON (- for standard input)")->required();
  for (const char* what : {"plan", "apply"}) {
    const std::string verb = what;
    add_name(leaf(
        *dataset, "lifecycle-" + verb,
        verb == "plan" ? "The dry run: what applying the rules now would do (paths for data "
                         "owners only)"
                       : "Apply the rules now: files left out of a new version, versions archived "
                         "or deleted, each change in the audit trail",
        [ds_path, verb](const Common& c) {
          return with_conn("dataset lifecycle-" + verb, c.server, true, [&](Conn& conn) -> Status {
            JZ_ASSIGN_OR_RETURN(Json out, conn.api->call(verb == "plan" ? "GET" : "POST",
                                                         ds_path() + "/lifecycle/" + verb));
            show_object(c.output, out);
            return {};
          });
        }));
  }

  // Uploads an archive (or a folder, packed with tar first) in chunks that survive dropped
  // connections: it resumes the caller's unfinished upload of the same dataset, in this
  // run or a later one.
  struct UploadOpts {
    std::string file;
    int chunk_mib = 8;
    int retries = 8;
    bool restart = false;
  };
  auto up = std::make_shared<UploadOpts>();
  auto* upload =
      leaf(*dataset, "upload",
           "Upload a tar or tar.gz archive, or a folder (packed with tar), as a new dataset, "
           "in chunks that resume after a dropped connection or a new run",
           [d, up](const Common& c) {
             return with_conn("dataset upload", c.server, true, [&](Conn& conn) -> Status {
               UploadRequest r{.project = d->project,
                               .dataset = d->name,
                               .level = d->level,
                               .path = up->file,
                               .chunk_bytes = static_cast<size_t>(up->chunk_mib) << 20,
                               .retries = up->retries,
                               .restart = up->restart};
               JZ_ASSIGN_OR_RETURN(Json made, upload_dataset(*conn.api, r));
               show_object(c.output, made);
               return {};
             });
           });
  add_name(upload);
  upload->add_option("FILE", up->file, "The .tar or .tar.gz archive, or a folder")
      ->required()
      ->check(CLI::ExistingPath);
  upload->add_option("--level", d->level, "open, internal (default) or secret")
      ->check(CLI::IsMember({"open", "internal", "secret"}));
  upload
      ->add_option("--chunk-mib", up->chunk_mib,
                   "Chunk size in MiB (default 8; at most the server's server.max_body_bytes)")
      ->check(CLI::Range(1, 1024));
  upload
      ->add_option("--retries", up->retries,
                   "Tries per chunk when the connection drops (default 8, waiting 1, 2, 4 ... s)")
      ->check(CLI::Range(0, 100));
  upload->add_flag("--restart", up->restart,
                   "Drop your unfinished upload of this dataset and start from the first byte");

  // ---- log policies ----
  auto* policy = app.add_subcommand(
      "log-policy",
      "What of a job's output reaches its log, per security level (data owners edit; "
      "docs/LOGS.md)");
  policy->require_subcommand(1);
  struct PolicyOpts {
    std::string project, level, file;
  };
  auto po = std::make_shared<PolicyOpts>();
  auto policy_path = [po] {
    return "/api/v1/projects/" + url_encode(po->project) + "/log-policies/" + url_encode(po->level);
  };
  auto add_level = [po](CLI::App* cmd) {
    cmd->add_option("PROJECT", po->project, "Project")->required();
    cmd->add_option("LEVEL", po->level, "open, internal or secret")
        ->required()
        ->check(CLI::IsMember({"open", "internal", "secret"}));
  };
  auto* pget = leaf(*policy, "get", "Show a level's policy (JSON)", [policy_path](const Common& c) {
    return with_conn("log-policy get", c.server, true, [&](Conn& conn) -> Status {
      JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("GET", policy_path()));
      std::cout << out.dump(2) << "\n";
      return {};
    });
  });
  add_level(pget);
  auto* pset =
      leaf(*policy, "set",
           "Replace a level's policy with a JSON document: {\"mode\": \"whitelist\", \"rules\": "
           "[{\"name\": ..., \"pattern\": ...}], ...}",
           [po, policy_path](const Common& c) {
             return with_conn("log-policy set", c.server, true, [&](Conn& conn) -> Status {
               std::ifstream in(po->file);
               if (!in) return Status::not_found("cannot read --file '" + po->file + "'");
               std::stringstream ss;
               ss << in.rdbuf();
               JZ_ASSIGN_OR_RETURN(Json body, json::parse(ss.str(), po->file));
               JZ_ASSIGN_OR_RETURN(Json out, conn.api->call("PUT", policy_path(), &body));
               std::cout << out.dump(2) << "\n";
               return {};
             });
           });
  add_level(pset);
  pset->add_option("--file", po->file, "The policy (JSON)")->required();
  add_level(leaf(*policy, "reset", "Back to the built-in policy of the level",
                 [policy_path](const Common& c) {
                   return with_conn("log-policy reset", c.server, true, [&](Conn& conn) -> Status {
                     JZ_RETURN_IF_ERROR(conn.api->call("DELETE", policy_path()).status());
                     std::cout << "reset\n";
                     return {};
                   });
                 }));
}

void ClientCommands::metrics_commands(CLI::App& app) {
  auto* metrics = app.add_subcommand(
      "metrics", "Training runs: their curves, uploads, TensorBoard files (docs/TRAINING.md)");
  metrics->require_subcommand(1);
  struct MetricsOpts {
    std::string project, run, file, path, out, job;
  };
  auto o = std::make_shared<MetricsOpts>();
  auto runs_path = [o] { return "/api/v1/projects/" + url_encode(o->project) + "/runs"; };
  auto* runs = leaf(*metrics, "runs", "List a project's training runs, newest first",
                    [o, runs_path](const Common& c) {
                      return with_conn("metrics runs", c.server, true, [&](Conn& conn) -> Status {
                        std::string path = runs_path() + "?page_size=200";
                        if (!o->job.empty()) path += "&job=" + url_encode(o->job);
                        JZ_ASSIGN_OR_RETURN(Json page, conn.api->call("GET", path));
                        show_list(c.output, page["items"],
                                  {{"NAME", "name"},
                                   {"OWNER", "owner"},
                                   {"STATE", "state"},
                                   {"POINTS", "points"},
                                   {"PROGRESS", "progress.done"},
                                   {"OF", "progress.total"},
                                   {"JOB", "job_id"},
                                   {"UPDATED", "updated_at"}});
                        return {};
                      });
                    });
  runs->add_option("project", o->project, "The project")->required();
  runs->add_option("--job", o->job, "Only the run of this job");
  auto* show = leaf(
      *metrics, "show", "Show a run: configuration, progress, the last value of each tag, notes",
      [o, runs_path](const Common& c) {
        return with_conn("metrics show", c.server, true, [&](Conn& conn) -> Status {
          JZ_ASSIGN_OR_RETURN(Json run,
                              conn.api->call("GET", runs_path() + "/" + url_encode(o->run)));
          show_object(c.output, run);
          return {};
        });
      });
  show->add_option("project", o->project, "The project")->required();
  show->add_option("run", o->run, "The run (a job's run is named after the job)")->required();

  // Starts the run (or continues one of yours by that name) and returns its records path.
  auto open_run = [o, runs_path](Conn& conn, const std::string& fallback) -> Result<std::string> {
    const std::string name = o->run.empty() ? fallback : o->run;
    Json body = {{"name", name}};
    auto made = conn.api->call("POST", runs_path(), &body);
    if (!made.ok() && made.status().code() != Code::kAlreadyExists) return made.status();
    return runs_path() + "/" + url_encode(name) + "/records";
  };
  // A name for a run from a file or folder name: what a run name may hold.
  auto name_of = [](const std::string& path) {
    std::string base = std::filesystem::path(path).filename().string();
    if (base.empty()) base = std::filesystem::path(path).parent_path().filename().string();
    std::string out;
    for (char ch : base) {
      out += std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ? ch : '-';
    }
    if (out.empty() || !std::isalnum(static_cast<unsigned char>(out[0]))) out = "run-" + out;
    return out.substr(0, 100);
  };

  auto* upload =
      leaf(*metrics, "upload",
           "Send the records a client wrote offline (JIZHAN_OFFLINE=FILE, one JSON record a line)\n"
           "to a run of yours: a new one named after the file, or --run NAME (continued when it\n"
           "exists and is yours and running).",
           [o, open_run, name_of](const Common& c) {
             return with_conn("metrics upload", c.server, true, [&](Conn& conn) -> Status {
               std::ifstream in(o->file, std::ios::binary);
               if (!in) return Status::not_found("cannot read '" + o->file + "'");
               std::stringstream ss;
               ss << in.rdbuf();
               const std::string text = ss.str();
               // Checked whole before anything is sent: a bad line names itself.
               JZ_RETURN_IF_ERROR(training::parse_lines(text).status());
               JZ_ASSIGN_OR_RETURN(std::string path, open_run(conn, name_of(o->file)));
               int64_t points = 0, tags = 0;
               constexpr size_t kChunk = size_t{4} << 20;
               for (size_t at = 0; at < text.size();) {
                 size_t end = std::min(text.size(), at + kChunk);
                 if (end < text.size()) {
                   const size_t nl = text.rfind('\n', end);
                   end = nl == std::string::npos || nl < at ? text.find('\n', end) : nl + 1;
                   if (end == std::string::npos) end = text.size();
                 }
                 JZ_ASSIGN_OR_RETURN(Json r, conn.api->post_bytes(path, text.substr(at, end - at),
                                                                  "application/x-ndjson"));
                 points += r.value("points", int64_t{0});
                 tags = r.value("tags", int64_t{0});
                 at = end;
               }
               std::cout << "uploaded " << points << " points (" << tags << " tags) to "
                         << path.substr(0, path.size() - 8) << "\n";
               return {};
             });
           });
  upload->add_option("project", o->project, "The project")->required();
  upload->add_option("file", o->file, "The records file")->required()->check(CLI::ExistingFile);
  upload->add_option("--run", o->run, "The run's name (default: the file's)");

  auto* import = leaf(
      *metrics, "import",
      "Read TensorBoard event files (a file, or every events.out.tfevents.* file under a\n"
      "folder) into a run of yours: their scalars (simple values and one-element tensors);\n"
      "images, histograms and the like are counted and left out.",
      [o, open_run, name_of](const Common& c) {
        return with_conn("metrics import", c.server, true, [&](Conn& conn) -> Status {
          std::vector<std::string> files;
          std::error_code ec;
          if (std::filesystem::is_directory(o->path, ec)) {
            for (const auto& e : std::filesystem::recursive_directory_iterator(o->path, ec)) {
              if (e.is_regular_file() &&
                  e.path().filename().string().find("tfevents") != std::string::npos) {
                files.push_back(e.path().string());
              }
            }
            std::sort(files.begin(), files.end());
          } else {
            files.push_back(o->path);
          }
          if (files.empty()) {
            return Status::not_found("no events.out.tfevents.* file under '" + o->path + "'");
          }
          // tag -> steps, values, times
          std::map<std::string, std::tuple<Json, Json, Json>> columns;
          int64_t others = 0, scalars = 0;
          for (const auto& f : files) {
            std::ifstream in(f, std::ios::binary);
            std::stringstream ss;
            ss << in.rdbuf();
            auto read = training::read_event_file(ss.str());
            if (!read.ok()) return read.status().with_context(f);
            others += read->other_values;
            for (const auto& sc : read->scalars) {
              if (!training::check_tag(sc.tag).ok()) {
                ++others;  // a tag name the platform refuses
                continue;
              }
              auto& [steps, values, times] = columns[sc.tag];
              steps.push_back(std::max<int64_t>(0, sc.step));
              values.push_back(training::value_json(sc.value));
              times.push_back(sc.wall_s);
              ++scalars;
            }
          }
          JZ_ASSIGN_OR_RETURN(std::string path, open_run(conn, name_of(o->path)));
          Json records = Json::array();
          size_t pending = 0;
          auto send = [&]() -> Status {
            if (records.empty()) return {};
            Json body = {{"records", records}};
            JZ_RETURN_IF_ERROR(conn.api->call("POST", path, &body).status());
            records = Json::array();
            pending = 0;
            return {};
          };
          for (auto& [tag, col] : columns) {
            auto& [steps, values, times] = col;
            for (size_t i = 0; i < steps.size(); i += 20000) {
              const size_t n = std::min<size_t>(20000, steps.size() - i);
              const auto from = static_cast<std::ptrdiff_t>(i);
              const auto to = static_cast<std::ptrdiff_t>(i + n);
              records.push_back({{"kind", "points"},
                                 {"tag", tag},
                                 {"steps", Json(steps.begin() + from, steps.begin() + to)},
                                 {"values", Json(values.begin() + from, values.begin() + to)},
                                 {"times", Json(times.begin() + from, times.begin() + to)}});
              pending += n;
              if (pending >= 50000) JZ_RETURN_IF_ERROR(send());
            }
          }
          JZ_RETURN_IF_ERROR(send());
          std::cout << "imported " << scalars << " scalars of " << columns.size() << " tags from "
                    << files.size() << " file(s) into " << path.substr(0, path.size() - 8);
          if (others > 0) std::cout << " (" << others << " other values left out)";
          std::cout << "\n";
          return {};
        });
      });
  import->add_option("project", o->project, "The project")->required();
  import->add_option("path", o->path, "An event file or a folder of them")
      ->required()
      ->check(CLI::ExistingPath);
  import->add_option("--run", o->run, "The run's name (default: the file's or folder's)");

  auto* export_tb = leaf(
      *metrics, "export-tb",
      "Write a run as a TensorBoard event file into a folder (created when missing); then\n"
      "`tensorboard --logdir DIR` shows it.",
      [o, runs_path](const Common& c) {
        return with_conn("metrics export-tb", c.server, true, [&](Conn& conn) -> Status {
          std::error_code ec;
          std::filesystem::create_directories(o->out, ec);
          if (ec)
            return Status::invalid_argument("cannot create '" + o->out + "': " + ec.message());
          JZ_ASSIGN_OR_RETURN(Json run,
                              conn.api->call("GET", runs_path() + "/" + url_encode(o->run)));
          auto created = parse_rfc3339(run.value("created_at", ""));
          const int64_t secs =
              created.ok()
                  ? std::chrono::duration_cast<std::chrono::seconds>(created->time_since_epoch())
                        .count()
                  : 0;
          const std::string dest =
              (std::filesystem::path(o->out) / training::event_file_name(secs, "jizhan")).string();
          JZ_ASSIGN_OR_RETURN(
              int64_t bytes,
              conn.api->download(runs_path() + "/" + url_encode(o->run) + "/tensorboard", dest));
          std::cout << "wrote " << dest << " (" << bytes << " bytes, " << run.value("points", 0)
                    << " points)\n";
          return {};
        });
      });
  export_tb->add_option("project", o->project, "The project")->required();
  export_tb->add_option("run", o->run, "The run")->required();
  export_tb->add_option("--out", o->out, "The folder (a TensorBoard log folder)")->required();
}

}  // namespace jz::cli
