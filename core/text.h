// Text that came from outside (a request path, a job's log line) made safe to print where
// control characters mean something: a log file read line by line, a terminal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jz {

struct EscapeOptions {
  bool keep_tab = false;      // a tab passes as it is (job logs on a terminal)
  bool escape_space = false;  // spaces too ("\x20"), for a key=value field
};

// Replaces every control character with a visible escape, so the text stays on one line
// and cannot drive a terminal: C0 (\n, \r, \t, \e and the rest) and DEL as \n, \r, \t or
// \xNN; C1 controls (U+0080..U+009F, the 8-bit CSI and OSC among them) as \u0080..\u009f;
// bytes that are not valid UTF-8 as \xNN; a backslash as \\ so the escapes cannot be
// forged. Valid UTF-8 text without controls comes back unchanged.
std::string escape_controls(std::string_view s, EscapeOptions o = {});

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or values past
// U+10FFFF).
bool is_utf8(std::string_view s);

// Text for XML or HTML, in an element or a quoted attribute: & < > " ' as entities, and
// control characters other than tab, line feed and carriage return (which XML 1.0 does not
// allow at all) as spaces.
std::string escape_markup(std::string_view s);

// True when escape_controls would change nothing.
bool is_printable(std::string_view s, bool keep_tab = false);

// A decimal integer, all of `text` ("-12", "0"; not "", "+1", " 1", "1x", or one that
// overflows 64 bits): the one parser of numbers in query parameters, page tokens and
// headers.
std::optional<int64_t> parse_int64(std::string_view text);

// The number after `key` in "key value" lines (the kernel's cgroup files: cpu.stat,
// memory.events, memory.oom_control); 0 when absent.
int64_t keyed_number(const std::string& text, const std::string& key);

}  // namespace jz
