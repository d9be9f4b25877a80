// What the client commands share (cli/client_commands.cc defines them): the connection to
// a server, tables and fields on standard output, every page of a list, errors.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/client.h"
#include "core/json.h"
#include "core/status.h"

namespace jz::cli {

struct Conn {
  std::unique_ptr<ApiClient> api;
  std::string config_dir;
  std::optional<Credentials> stored;
};

// An environment variable, or "".
std::string env(const char* name);
// Resolves the server and the token as cli/client.h describes.
Result<Conn> connect(const std::string& server_flag, bool need_token);

struct Column {
  std::string header, key;  // key: dotted ("token.id")
};
std::string cell(const Json& v);
Json field(const Json& obj, const std::string& key);
void print_table(const Json& items, const std::vector<Column>& cols);
void print_fields(const Json& obj, const std::string& prefix = "");
// A list response as a table, or as JSON with `-o json`.
void show_list(const std::string& output, const Json& items, const std::vector<Column>& cols);
void show_object(const std::string& output, const Json& obj);
// Every page of a list endpoint.
Result<Json> list_all(ApiClient& api, const std::string& path);

// `jizhan COMMAND: error: MESSAGE` on standard error; returns 1.
int report(const std::string& command, const Status& s);
// Runs `fn(conn)`, reporting errors as `jizhan COMMAND: error: ...`.
int with_conn(const std::string& command, const std::string& server, bool need_token,
              const std::function<Status(Conn&)>& fn);

}  // namespace jz::cli
