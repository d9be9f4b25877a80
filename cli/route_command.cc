#include "cli/route_command.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "routepath/route.h"

namespace jz::cli {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

// JSON lines, streamed: one output array per input line, without reading the whole file
// (simple paths never build the documents either; see routepath/scan.h).
int RouteCommands::stream_lines(const routepath::RoutePath& path) {
  FILE* in = file_ == "-" ? stdin : std::fopen(file_.c_str(), "rb");
  if (!in) {
    std::cerr << "jizhan route query: error: cannot read " << file_ << ": " << errno_message(errno)
              << "\n";
    return 1;
  }
  static char inbuf[1 << 20];
  std::setvbuf(in, inbuf, _IOFBF, sizeof inbuf);
  std::string out;
  out.reserve(2 << 20);
  char* line = nullptr;
  size_t cap = 0;
  size_t line_no = 0;
  int rc = 0;
  for (ssize_t n; (n = ::getline(&line, &cap, in)) >= 0;) {
    ++line_no;
    std::string_view l(line, static_cast<size_t>(n));
    while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.remove_suffix(1);
    if (l.find_first_not_of(" \t") == std::string_view::npos) continue;
    Status s = path.append_json_array(l, file_ + " line " + std::to_string(line_no), out);
    if (!s.ok()) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
      std::cerr << "jizhan route query: error: " << s.message() << "\n";
      rc = 1;
      break;
    }
    out += '\n';
    if (out.size() >= (1 << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::free(line);
  if (in != stdin) std::fclose(in);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return rc;
}

RouteCommands::RouteCommands(CLI::App& app) {
  auto* route = app.add_subcommand("route", "Route paths: how templates point into JSON and XML");
  route->require_subcommand(1);
  auto* query = route->add_subcommand(
      "query",
      "Print the JSON array of the values a route path matches in a file.\n"
      "PATH: JSONPath ($.a[0]), the short form (a[0].b@num) or xpath:EXPR for XML;\n"
      "see docs/ROUTE_PATHS.md. FILE: .json, .xml, or .jsonl (one array per line);\n"
      "'-' reads standard input.");
  query->add_option("PATH", path_, "The route path")->required();
  query->add_option("FILE", file_, "The document")->required();
  query->add_flag("--paths", paths_, "Print normalized paths ($['a'][0]) instead of values");
  query->add_option("--format", format_, "auto (by extension), json, jsonl or xml")
      ->check(CLI::IsMember({"auto", "json", "jsonl", "xml"}))
      ->option_text("FORMAT");
  query
      ->add_option("--xml-array", xml_arrays_,
                   "XML tag always mapped to an array, even when it appears once (repeatable)")
      ->option_text("TAG");
  query->add_flag("--compact", compact_, "One line per result instead of indented JSON");
  query->callback([this] {
    action_ = [this]() -> int {
      auto fail = [](const std::string& message) {
        std::cerr << "jizhan route query: error: " << message << "\n";
        return 1;
      };
      auto path = routepath::RoutePath::parse(path_);
      if (!path.ok()) return fail(path.status().message());
      std::string format = format_;
      if (format == "auto") {
        format = ends_with(file_, ".xml")                                    ? "xml"
                 : ends_with(file_, ".jsonl") || ends_with(file_, ".ndjson") ? "jsonl"
                                                                             : "json";
      }
      if (format == "jsonl" && !paths_) return stream_lines(*path);
      std::stringstream ss;
      if (file_ == "-") {
        ss << std::cin.rdbuf();
      } else {
        std::ifstream in(file_, std::ios::binary);
        if (!in) return fail("cannot read " + file_ + ": " + errno_message(errno));
        ss << in.rdbuf();
      }
      const std::string text = ss.str();
      routepath::XmlOptions xml;
      xml.arrays.insert(xml_arrays_.begin(), xml_arrays_.end());
      auto emit = [&](const routepath::Document& doc) -> Status {
        routepath::Value out = routepath::Value::array();
        if (paths_) {
          JZ_ASSIGN_OR_RETURN(auto vs, path->values_with_paths(doc));
          for (auto& [p, v] : vs) out.push_back(p);
        } else {
          JZ_ASSIGN_OR_RETURN(auto vs, path->values(doc));
          for (auto& v : vs) out.push_back(std::move(v));
        }
        std::cout << (compact_ || format == "jsonl" ? out.dump() : out.dump(2)) << "\n";
        return {};
      };
      if (format == "jsonl") {
        Status s = routepath::for_each_json_line(
            text, file_, [&](const routepath::Document& doc, const std::string& where) -> Status {
              Status e = emit(doc);
              return e.ok() ? e : Status(e.code(), where + ": " + e.message());
            });
        if (!s.ok()) return fail(s.message());
        return 0;
      }
      auto doc = routepath::parse_document(
          text, format == "xml" ? routepath::Format::kXml : routepath::Format::kJson, file_, xml);
      if (!doc.ok()) return fail(doc.status().message());
      if (Status s = emit(*doc); !s.ok()) return fail(file_ + ": " + s.message());
      return 0;
    };
  });
}

}  // namespace jz::cli
