// Pieces of a bubblewrap command line shared by the job sandboxes (exec/) and the
// algorithm sandboxes (sdk/): the machine's system folders, read-only.
#pragma once

#include <string>
#include <vector>

namespace jz {

// Appends what shows a sandbox /usr, /bin, /sbin, /lib*, /etc as on this machine,
// read-only: a folder is bound, a symlink (/lib -> usr/lib on merged-/usr systems) is
// recreated.
void add_system_binds(std::vector<std::string>& argv);

// Appends --dev-bind for the NVIDIA device files (/dev/nvidia*), so CUDA works inside.
void add_gpu_devices(std::vector<std::string>& argv);

}  // namespace jz
