// One request by method name, for tests that walk routes from a table or the OpenAPI
// document: GET and DELETE without a body, POST, PUT and PATCH with a JSON one.
#pragma once

#include <httplib.h>

#include <string>

namespace jz::testing {

inline httplib::Result send(httplib::Client& c, const std::string& method, const std::string& path,
                            const std::string& body = "{}", const httplib::Headers& headers = {}) {
  if (method == "GET") return c.Get(path, headers);
  if (method == "POST") return c.Post(path, headers, body, "application/json");
  if (method == "PUT") return c.Put(path, headers, body, "application/json");
  if (method == "PATCH") return c.Patch(path, headers, body, "application/json");
  return c.Delete(path, headers);
}

}  // namespace jz::testing
