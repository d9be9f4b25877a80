// What a job's environment description needs from the node (mission H1): Debian packages
// installed there, checked before the job is taken and again before it starts, so a
// missing one is a clear refusal naming it rather than "command not found" in a log.
// Packages are not installed by the platform: jobs have no network and the node's
// software is its admin's (`apt-get install`, or the node image).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace jz::jobs {

// The packages of `names` not installed on this machine (dpkg's database), in order;
// unavailable when dpkg-query cannot run (not a Debian-like system).
Result<std::vector<std::string>> missing_packages(const std::vector<std::string>& names);

// The message for missing packages: which, and what the node's admin runs.
std::string missing_packages_message(const std::vector<std::string>& missing);

}  // namespace jz::jobs
