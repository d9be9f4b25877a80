/* The vGPU library's configuration parser (config.h). No allocation, no libc state: it
 * runs inside every process of a job, before anything else of the library. */
#include "gpu/vgpu/config.h"

#include <string.h>

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

int jz_vgpu_parse_size(const char* s, size_t len, uint64_t* out, const char** why) {
  while (len > 0 && is_space(*s)) ++s, --len;
  while (len > 0 && is_space(s[len - 1])) --len;
  if (len == 0) {
    *why = "empty size";
    return -1;
  }
  uint64_t v = 0;
  size_t i = 0;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; ++i) {
    const uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) {
      *why = "size too large";
      return -1;
    }
    v = v * 10 + d;
  }
  if (i == 0) {
    *why = "a size starts with digits (bytes, or a number with k, m, g or t)";
    return -1;
  }
  unsigned shift = 0;
  if (i < len) {
    switch (s[i] | 0x20) {
      case 'k':
        shift = 10;
        break;
      case 'm':
        shift = 20;
        break;
      case 'g':
        shift = 30;
        break;
      case 't':
        shift = 40;
        break;
      case 'b':
        shift = 0;
        break;
      default:
        *why = "unknown size unit (use k, m, g or t)";
        return -1;
    }
    ++i;
    /* "Mi", "MiB", "MB", "m" all mean the binary unit. */
    if (i < len && (s[i] == 'i' || s[i] == 'I')) ++i;
    if (i < len && (s[i] == 'b' || s[i] == 'B') && shift != 0) ++i;
    if (i != len) {
      *why = "unexpected text after the size";
      return -1;
    }
  }
  if (shift && v > (UINT64_MAX >> shift)) {
    *why = "size too large";
    return -1;
  }
  *out = v << shift;
  return 0;
}

static int parse_percent(const char* s, size_t len, int* out, const char** why) {
  while (len > 0 && is_space(*s)) ++s, --len;
  while (len > 0 && is_space(s[len - 1])) --len;
  int v = 0;
  size_t i = 0;
  for (; i < len && i < 4 && s[i] >= '0' && s[i] <= '9'; ++i) v = v * 10 + (s[i] - '0');
  if (i == 0 || i != len || v < 1 || v > 100) {
    *why = "a core limit is a percentage from 1 to 100";
    return -1;
  }
  *out = v == 100 ? 0 : v;
  return 0;
}

/* KEY or KEY_<i>: -1 for all devices, the index, or -2 when the suffix is not one. */
static int device_suffix(const char* key, size_t key_len, const char* base) {
  const size_t n = strlen(base);
  if (key_len < n || memcmp(key, base, n) != 0) return -2;
  if (key_len == n) return -1;
  if (key[n] != '_' || key_len == n + 1 || key_len > n + 3) return -2;
  int d = 0;
  for (size_t i = n + 1; i < key_len; ++i) {
    if (key[i] < '0' || key[i] > '9') return -2;
    d = d * 10 + (key[i] - '0');
  }
  return d < JZ_VGPU_MAX_DEVICES ? d : -2;
}

static void copy_trimmed(char* dst, size_t cap, const char* s, size_t len) {
  while (len > 0 && is_space(*s)) ++s, --len;
  while (len > 0 && is_space(s[len - 1])) --len;
  if (len >= cap) len = cap - 1;
  memcpy(dst, s, len);
  dst[len] = 0;
}

int jz_vgpu_config_set(jz_vgpu_config* c, const char* key, size_t key_len, const char* value,
                       size_t value_len, const char** why) {
  while (key_len > 0 && is_space(*key)) ++key, --key_len;
  while (key_len > 0 && is_space(key[key_len - 1])) --key_len;
  int d = device_suffix(key, key_len, "JZ_VGPU_MEMORY_LIMIT");
  if (d != -2) {
    uint64_t bytes = 0;
    if (jz_vgpu_parse_size(value, value_len, &bytes, why) != 0) return -1;
    for (int i = 0; i < JZ_VGPU_MAX_DEVICES; ++i) {
      if (d == i || d == -1) c->memory_limit[i] = bytes;
    }
    return 0;
  }
  d = device_suffix(key, key_len, "JZ_VGPU_CORE_LIMIT");
  if (d != -2) {
    int percent = 0;
    if (parse_percent(value, value_len, &percent, why) != 0) return -1;
    for (int i = 0; i < JZ_VGPU_MAX_DEVICES; ++i) {
      if (d == i || d == -1) c->core_limit[i] = percent;
    }
    return 0;
  }
  if (key_len == 14 && memcmp(key, "JZ_VGPU_REGION", 14) == 0) {
    copy_trimmed(c->region, sizeof c->region, value, value_len);
    return 0;
  }
  if (key_len == 14 && memcmp(key, "JZ_VGPU_DRIVER", 14) == 0) {
    copy_trimmed(c->driver, sizeof c->driver, value, value_len);
    return 0;
  }
  if (key_len == 13 && memcmp(key, "JZ_VGPU_UUIDS", 13) == 0) {
    int i = 0;
    size_t at = 0;
    while (at <= value_len && i < JZ_VGPU_MAX_DEVICES) {
      size_t end = at;
      while (end < value_len && value[end] != ',') ++end;
      copy_trimmed(c->uuids[i++], sizeof c->uuids[0], value + at, end - at);
      at = end + 1;
    }
    return 0;
  }
  return 0;
}

int jz_vgpu_parse_config(const char* text, size_t len, jz_vgpu_config* c, const char** why) {
  size_t at = 0;
  int line = 0;
  while (at < len) {
    ++line;
    size_t end = at;
    while (end < len && text[end] != '\n') ++end;
    const char* s = text + at;
    size_t n = end - at;
    while (n > 0 && is_space(*s)) ++s, --n;
    if (n > 0 && *s != '#') {
      const char* eq = memchr(s, '=', n);
      if (!eq) {
        *why = "a line is KEY=VALUE";
        return line;
      }
      if (jz_vgpu_config_set(c, s, (size_t)(eq - s), eq + 1, n - (size_t)(eq - s) - 1, why) != 0) {
        return line;
      }
    }
    at = end + 1;
  }
  return 0;
}
