// Regions of interest in the config convention (docs/ALGORITHM_SDK.md): WKT POLYGON or
// MULTIPOLYGON text in normalised [0, 1] image coordinates, e.g.
//   "POLYGON((0 0,1 0,1 1,0 1,0 0))"   "MULTIPOLYGON(((0 0,0.5 0,0.5 1,0 0)),((...)))"
// Header-only, standard library only, for algorithm authors.
//
//   std::string error;
//   auto roi = jizhan::Roi::parse(config_roi, &error);   // nullopt + error on bad text
//   if (roi->contains(cx / width, cy / height)) ...
#pragma once

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jizhan {

class Roi {
 public:
  struct Point {
    double x, y;
  };
  using Ring = std::vector<Point>;  // closed: the first point repeats at the end

  // Polygons with holes: each polygon is an outer ring then its holes. Keywords are case
  // insensitive; coordinates must lie in [0, 1]; every ring needs 4 or more points and
  // must close. `error` (when given) says what and where.
  static std::optional<Roi> parse(std::string_view text, std::string* error = nullptr) {
    Parser p{text, 0, {}};
    Roi roi;
    if (!p.parse(roi)) {
      if (error) *error = "ROI at character " + std::to_string(p.pos + 1) + ": " + p.error;
      return std::nullopt;
    }
    return roi;
  }

  // The whole image.
  static Roi everything() {
    Roi r;
    r.polygons_.push_back({Ring{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}});
    return r;
  }

  // Even-odd rule over all rings of a polygon; any polygon containing the point counts.
  bool contains(double x, double y) const {
    for (const auto& polygon : polygons_) {
      bool inside = false;
      for (const auto& ring : polygon) {
        for (size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++) {
          const Point& a = ring[i];
          const Point& b = ring[j];
          if ((a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) {
            inside = !inside;
          }
        }
      }
      if (inside) return true;
    }
    return false;
  }

  const std::vector<std::vector<Ring>>& polygons() const { return polygons_; }

 private:
  struct Parser {
    std::string_view t;
    size_t pos;
    std::string error;

    void ws() {
      while (pos < t.size() && std::isspace(static_cast<unsigned char>(t[pos]))) ++pos;
    }
    bool fail(const std::string& what) {
      if (error.empty()) error = what;
      return false;
    }
    bool keyword(std::string_view word) {
      ws();
      if (t.size() - pos < word.size()) return false;
      for (size_t i = 0; i < word.size(); ++i) {
        if (std::toupper(static_cast<unsigned char>(t[pos + i])) != word[i]) return false;
      }
      const size_t after = pos + word.size();
      if (after < t.size() && std::isalpha(static_cast<unsigned char>(t[after]))) return false;
      pos = after;
      return true;
    }
    bool expect(char c) {
      ws();
      if (pos < t.size() && t[pos] == c) {
        ++pos;
        return true;
      }
      return fail(std::string("expected '") + c + "'");
    }
    bool number(double& out) {
      ws();
      const size_t start = pos;
      if (pos < t.size() && (t[pos] == '-' || t[pos] == '+')) ++pos;
      bool digits = false;
      while (pos < t.size() &&
             (std::isdigit(static_cast<unsigned char>(t[pos])) || t[pos] == '.')) {
        digits = digits || t[pos] != '.';
        ++pos;
      }
      if (pos < t.size() && (t[pos] == 'e' || t[pos] == 'E')) {
        ++pos;
        if (pos < t.size() && (t[pos] == '-' || t[pos] == '+')) ++pos;
        while (pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos]))) ++pos;
      }
      if (!digits) {
        pos = start;
        return fail("expected a number");
      }
      const std::string text(t.substr(start, pos - start));
      char* end = nullptr;
      out = std::strtod(text.c_str(), &end);
      if (*end || !std::isfinite(out)) {
        pos = start;
        return fail("expected a number");
      }
      if (out < 0 || out > 1) {
        pos = start;
        return fail("coordinates are normalised: " + text + " is outside [0, 1]");
      }
      return true;
    }
    bool ring(Ring& r) {
      if (!expect('(')) return false;
      for (;;) {
        Point p{};
        if (!number(p.x) || !number(p.y)) return false;
        r.push_back(p);
        if (r.size() > 100000) return fail("a ring with more than 100,000 points");
        ws();
        if (pos < t.size() && t[pos] == ',') {
          ++pos;
          continue;
        }
        if (!expect(')')) return fail("expected ',' or ')'");
        break;
      }
      if (r.size() < 4) return fail("a ring needs at least 4 points (the first repeated last)");
      if (r.front().x != r.back().x || r.front().y != r.back().y) {
        return fail("a ring must end where it starts");
      }
      return true;
    }
    bool polygon(std::vector<Ring>& rings) {
      if (!expect('(')) return false;
      for (;;) {
        Ring r;
        if (!ring(r)) return false;
        rings.push_back(std::move(r));
        ws();
        if (pos < t.size() && t[pos] == ',') {
          ++pos;
          continue;
        }
        return expect(')') || fail("expected ',' or ')'");
      }
    }
    bool parse(Roi& roi) {
      if (keyword("POLYGON")) {
        std::vector<Ring> rings;
        if (!polygon(rings)) return false;
        roi.polygons_.push_back(std::move(rings));
      } else if (keyword("MULTIPOLYGON")) {
        if (!expect('(')) return false;
        for (;;) {
          std::vector<Ring> rings;
          if (!polygon(rings)) return false;
          roi.polygons_.push_back(std::move(rings));
          ws();
          if (pos < t.size() && t[pos] == ',') {
            ++pos;
            continue;
          }
          if (!expect(')')) return fail("expected ',' or ')'");
          break;
        }
      } else {
        return fail("expected POLYGON or MULTIPOLYGON");
      }
      ws();
      if (pos != t.size()) return fail("unexpected text after the region");
      return true;
    }
  };

  std::vector<std::vector<Ring>> polygons_;
};

}  // namespace jizhan
