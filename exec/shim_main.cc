// jizhan-shim DIR: the supervisor of one job (exec/executor.h). A program of its own,
// small and quick to start, installed beside `jizhan`: the server starts one per job.
#include <iostream>
#include <string>

#include "exec/executor.h"

int main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]).empty() || argv[1][0] == '-') {
    std::cerr << "usage: jizhan-shim JOB_DIR\n"
                 "Supervises one job for the jizhan server's local executor; not for people.\n";
    return 2;
  }
  return jz::exec::run_shim(argv[1]);
}
