// Routes of job logs (docs/LOGS.md): the log policies of a project's security levels
// (data owners edit them), a job's filtered log (ranges, tail, time window, search, live
// follow over Server-Sent Events, download, withheld counts), its raw log (data owners,
// when kept) and search across a project's jobs.
#pragma once

#include "api/route_host.h"
#include "api/server.h"

namespace jz::api {

void add_log_routes(RouteHost& host, const PlatformServices& services);

}  // namespace jz::api
