// A fresh, migrated database of either dialect for one test: a SQLite file in a
// temporary folder, or a new database on the PostgreSQL server the test binary shares.
#pragma once

#include <memory>

#include "store/database.h"
#include "tests/support/temp_dir.h"

namespace jz::testing {

// Fails (returns an error) rather than skips when PostgreSQL cannot be started.
Result<std::unique_ptr<store::Database>> open_test_database(store::Dialect dialect,
                                                            const TempDir& dir,
                                                            store::DatabaseOptions* used = nullptr);

}  // namespace jz::testing
