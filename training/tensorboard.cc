#include "training/tensorboard.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <queue>
#include <tuple>

#include "core/bytes.h"
#include "training/store.h"

namespace jz::training {

namespace {

constexpr std::array<uint32_t, 256> kTable = [] {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}();

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_key(std::string& out, int field, int wire) {
  put_varint(out, static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire));
}

void put_field(std::string& out, int field, std::string_view bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// A protocol buffer message read field by field.
class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool done() const { return at_ >= d_.size(); }
  // The next field: its number and wire type, and its payload (a varint in `v`, fixed
  // bits in `v`, bytes in `bytes`). False on malformed input.
  bool next(int& field, int& wire, uint64_t& v, std::string_view& bytes) {
    uint64_t key = 0;
    if (!varint(key)) return false;
    field = static_cast<int>(key >> 3);
    wire = static_cast<int>(key & 7);
    if (field == 0) return false;
    switch (wire) {
      case 0:
        return varint(v);
      case 1:
        return fixed(8, v);
      case 5:
        return fixed(4, v);
      case 2: {
        uint64_t n = 0;
        if (!varint(n) || n > d_.size() - at_) return false;
        bytes = d_.substr(at_, n);
        at_ += n;
        return true;
      }
      default:
        return false;  // groups (3, 4) are not in these messages
    }
  }

 private:
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= d_.size()) return false;
      const auto b = static_cast<uint8_t>(d_[at_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool fixed(size_t n, uint64_t& v) {
    if (d_.size() - at_ < n) return false;
    v = 0;
    std::memcpy(&v, d_.data() + at_, n);
    at_ += n;
    return true;
  }
  std::string_view d_;
  size_t at_ = 0;
};

double as_double(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}
float as_float(uint64_t bits) {
  const auto b = static_cast<uint32_t>(bits);
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// The values of a packed repeated field of wire type `w` (5: 4 bytes, 1: 8 bytes, 0:
// varints); false when malformed.
template <typename F>
bool packed(std::string_view b, int w, F&& each) {
  for (size_t i = 0; i < b.size();) {
    uint64_t x = 0;
    if (w == 5 || w == 1) {
      const size_t n = w == 5 ? 4 : 8;
      if (b.size() - i < n) return false;
      std::memcpy(&x, b.data() + i, n);
      i += n;
    } else {
      for (int shift = 0;; shift += 7) {
        if (i >= b.size() || shift > 63) return false;
        const auto c = static_cast<uint8_t>(b[i++]);
        x |= static_cast<uint64_t>(c & 0x7f) << shift;
        if (!(c & 0x80)) break;
      }
    }
    each(x);
  }
  return true;
}

// A one-element numeric tensor's value (TensorProto), if it is one.
std::optional<double> tensor_scalar(std::string_view t) {
  Reader r(t);
  int field = 0, wire = 0;
  uint64_t v = 0;
  std::string_view bytes;
  int64_t dtype = 0;
  std::vector<double> values;
  std::string_view content;
  while (!r.done()) {
    if (!r.next(field, wire, v, bytes)) return std::nullopt;
    if (field == 1 && wire == 0) dtype = static_cast<int64_t>(v);
    if (field == 4 && wire == 2) content = bytes;
    if (field == 5) {  // float_val
      if (wire == 5) values.push_back(as_float(v));
      if (wire == 2 && !packed(bytes, 5, [&](uint64_t x) { values.push_back(as_float(x)); })) {
        return std::nullopt;
      }
    }
    if (field == 6) {  // double_val
      if (wire == 1) values.push_back(as_double(v));
      if (wire == 2 && !packed(bytes, 1, [&](uint64_t x) { values.push_back(as_double(x)); })) {
        return std::nullopt;
      }
    }
    if (field == 7 || field == 10) {  // int_val, int64_val
      if (wire == 0) values.push_back(static_cast<double>(static_cast<int64_t>(v)));
      if (wire == 2 && !packed(bytes, 0, [&](uint64_t x) {
            values.push_back(static_cast<double>(static_cast<int64_t>(x)));
          })) {
        return std::nullopt;
      }
    }
  }
  if (values.size() == 1) return values[0];
  if (values.empty() && dtype == 1 && content.size() == 4) {  // DT_FLOAT
    uint64_t bits = 0;
    std::memcpy(&bits, content.data(), 4);
    return as_float(bits);
  }
  if (values.empty() && dtype == 2 && content.size() == 8) {  // DT_DOUBLE
    uint64_t bits = 0;
    std::memcpy(&bits, content.data(), 8);
    return as_double(bits);
  }
  return std::nullopt;
}

}  // namespace

uint32_t crc32c(std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (char ch : data) crc = kTable[(crc ^ static_cast<uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(std::string_view data) {
  const uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

void EventWriter::record(const std::string& event) {
  std::string len;
  put_bytes<uint64_t>(len, event.size());
  out_ += len;
  put_bytes<uint32_t>(out_, masked_crc32c(len));
  out_ += event;
  put_bytes<uint32_t>(out_, masked_crc32c(event));
}

void EventWriter::file_version(double wall_s) {
  std::string e;
  put_key(e, 1, 1);
  put_bytes<double>(e, wall_s);
  put_field(e, 3, "brain.Event:2");
  record(e);
}

void EventWriter::scalar(double wall_s, int64_t step, const std::string& tag, float value) {
  std::string v;
  put_field(v, 1, tag);
  put_key(v, 2, 5);
  put_bytes<float>(v, value);
  std::string summary;
  put_field(summary, 1, v);
  std::string e;
  put_key(e, 1, 1);
  put_bytes<double>(e, wall_s);
  put_key(e, 2, 0);
  put_varint(e, static_cast<uint64_t>(step));
  put_field(e, 5, summary);
  record(e);
}

std::string event_file_name(int64_t wall_s, const std::string& host) {
  return "events.out.tfevents." + std::to_string(wall_s) + "." + host;
}

Result<std::string> run_event_file(const std::string& dir, int64_t max_points) {
  JZ_ASSIGN_OR_RETURN(auto tags, read_tags(dir));
  std::vector<Series> all;
  int64_t total = 0;
  for (const auto& tag : tags) {
    JZ_ASSIGN_OR_RETURN(Series s, read_series(dir, tag, {.points = 0}));
    total += s.total;
    if (total > max_points) {
      return Status::resource_exhausted(
          "the run has more than " + std::to_string(max_points) +
          " points: too many for one event file (export fewer with the series API's points=)");
    }
    all.push_back(std::move(s));
  }
  std::string out;
  EventWriter w(out);
  double first = 0;
  for (const auto& s : all) {
    if (!s.points.empty() && (first == 0 || static_cast<double>(s.first_wall_us) / 1e6 < first))
      first = static_cast<double>(s.first_wall_us) / 1e6;
  }
  w.file_version(first);
  // Merged by (wall time, step, tag order): as a training loop would have written them.
  using Head = std::tuple<int64_t, int64_t, size_t, size_t>;  // wall, step, series, index
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  for (size_t i = 0; i < all.size(); ++i) {
    if (!all[i].points.empty())
      heads.emplace(all[i].points[0].wall_us, all[i].points[0].step, i, 0);
  }
  while (!heads.empty()) {
    const auto [wall, step, si, pi] = heads.top();
    heads.pop();
    const SeriesPoint& p = all[si].points[pi];
    w.scalar(static_cast<double>(wall) / 1e6, step, all[si].tag, static_cast<float>(p.value));
    if (pi + 1 < all[si].points.size()) {
      const SeriesPoint& n = all[si].points[pi + 1];
      heads.emplace(n.wall_us, n.step, si, pi + 1);
    }
  }
  return out;
}

Result<TbFile> read_event_file(std::string_view bytes) {
  TbFile out;
  size_t at = 0;
  auto bad = [&](const std::string& what) {
    return Status::invalid_argument("not a TensorBoard event file: " + what + " at byte " +
                                    std::to_string(at));
  };
  while (at < bytes.size()) {
    if (bytes.size() - at < 12) {
      out.truncated = true;
      break;
    }
    uint64_t len = 0;
    uint32_t len_crc = 0;
    std::memcpy(&len, bytes.data() + at, 8);
    std::memcpy(&len_crc, bytes.data() + at + 8, 4);
    if (masked_crc32c(bytes.substr(at, 8)) != len_crc) return bad("a record length's CRC");
    if (len > bytes.size() - at - 12 || bytes.size() - at - 12 - len < 4) {
      out.truncated = true;
      break;
    }
    const std::string_view data = bytes.substr(at + 12, len);
    uint32_t data_crc = 0;
    std::memcpy(&data_crc, bytes.data() + at + 12 + len, 4);
    if (masked_crc32c(data) != data_crc) return bad("a record's CRC");
    ++out.events;
    // The Event.
    Reader r(data);
    double wall = 0;
    int64_t step = 0;
    std::vector<std::string_view> summaries;
    int field = 0, wire = 0;
    uint64_t v = 0;
    std::string_view b;
    while (!r.done()) {
      if (!r.next(field, wire, v, b)) return bad("a malformed event");
      if (field == 1 && wire == 1) wall = as_double(v);
      if (field == 2 && wire == 0) step = static_cast<int64_t>(v);
      if (field == 3 && wire == 2) out.file_version = std::string(b);
      if (field == 5 && wire == 2) summaries.push_back(b);
    }
    for (std::string_view s : summaries) {
      Reader sr(s);
      while (!sr.done()) {
        if (!sr.next(field, wire, v, b)) return bad("a malformed summary");
        if (field != 1 || wire != 2) continue;
        // A Summary.Value.
        Reader vr(b);
        std::string tag;
        std::optional<double> value;
        std::string_view tensor;
        while (!vr.done()) {
          std::string_view vb;
          if (!vr.next(field, wire, v, vb)) return bad("a malformed summary value");
          if (field == 1 && wire == 2) tag = std::string(vb);
          if (field == 2 && wire == 5) value = as_float(v);
          if (field == 8 && wire == 2) tensor = vb;
        }
        if (!value && !tensor.empty()) value = tensor_scalar(tensor);
        if (value && !tag.empty()) {
          out.scalars.push_back({tag, step, wall, *value});
        } else {
          ++out.other_values;
        }
      }
    }
    at += 12 + len + 4;
  }
  return out;
}

}  // namespace jz::training
