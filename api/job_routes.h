// Routes of the job service: datasets, jobs (submit, list, get, history, logs, cancel,
// retry), per-project job settings, the machine's nodes, and the dev-environment proxy
// /devenvs/{id}/... (docs/JOBS.md).
#pragma once

#include "api/route_host.h"
#include "api/server.h"

namespace jz::api {

void add_job_routes(RouteHost& host, const PlatformServices& services);

}  // namespace jz::api
