#include "platform/jobs/environment.h"

#include <set>
#include <sstream>

#include "core/subprocess.h"
#include "platform/jobs/spec.h"

namespace jz::jobs {

Result<std::vector<std::string>> missing_packages(const std::vector<std::string>& names) {
  std::vector<std::string> missing;
  if (names.empty()) return missing;
  SubprocessOptions o;
  o.argv = {"dpkg-query", "--show", "--showformat=${Package} ${db:Status-Status}\\n", "--"};
  for (const auto& n : names) {
    if (!valid_package(n)) return Status::invalid_argument("'" + n + "' is no package name");
    o.argv.push_back(n);
  }
  o.timeout = std::chrono::seconds(30);
  auto r = run_subprocess(o);
  if (!r.ok()) {
    return Status::unavailable("cannot ask dpkg which packages this node has: " +
                               r.status().message());
  }
  // dpkg-query exits 1 when a name is unknown; the known ones are still listed.
  std::set<std::string> installed;
  std::istringstream lines(r->out);
  for (std::string line; std::getline(lines, line);) {
    const size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    std::string name = line.substr(0, space);
    if (const size_t colon = name.find(':'); colon != std::string::npos) name.resize(colon);
    if (line.substr(space + 1) == "installed") installed.insert(name);
  }
  for (const auto& n : names) {
    if (!installed.count(n)) missing.push_back(n);
  }
  return missing;
}

std::string missing_packages_message(const std::vector<std::string>& missing) {
  std::string list;
  for (const auto& m : missing) list += (list.empty() ? "" : " ") + m;
  return "the node lacks Debian package(s) " + list +
         " that the job's environment needs: the node's admin installs them (apt-get install " +
         list + ")";
}

}  // namespace jz::jobs
