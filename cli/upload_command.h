// `jizhan dataset upload`: a resumable, chunked upload of an archive (or a folder, packed
// with tar) that becomes a dataset (docs/JOBS.md, "Uploads").
#pragma once

#include <cstddef>
#include <string>

#include "cli/client.h"
#include "core/json.h"
#include "core/status.h"

namespace jz::cli {

struct UploadRequest {
  std::string project, dataset, level = "internal", path;
  size_t chunk_bytes = size_t{8} << 20;
  int retries = 8;       // tries per chunk after a dropped connection (1, 2, 4 ... s apart)
  bool restart = false;  // drop the caller's unfinished upload of the dataset first
};

// Sends the file in chunks at offsets (each with its SHA-256), resuming the caller's
// unfinished upload of the same dataset when its size matches; a progress bar on stderr
// (a line each 10% when stderr is not a terminal). Returns the dataset.
Result<Json> upload_dataset(ApiClient& api, const UploadRequest& r);

}  // namespace jz::cli
