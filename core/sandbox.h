// Pieces of a bubblewrap command line shared by the job sandboxes (exec/) and the
// algorithm sandboxes (sdk/): the machine's system folders, read-only.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace jz {

// Appends what shows a sandbox /usr, /bin, /sbin, /lib*, /etc as on this machine,
// read-only: a folder is bound, a symlink (/lib -> usr/lib on merged-/usr systems) is
// recreated. The platform's own settings under /etc/jizhan stay out.
//
// With `etc_files` (a path under /etc in the sandbox -> the host file to show there),
// /etc is a read-only tmpfs holding the host's entries with those files over them: how
// a job gets /etc/ld.so.preload and /etc/jizhan/vgpu.conf that it cannot change.
void add_system_binds(std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& etc_files = {});

// Appends --dev-bind for the NVIDIA device files (/dev/nvidia*), so CUDA works inside.
void add_gpu_devices(std::vector<std::string>& argv);

}  // namespace jz
