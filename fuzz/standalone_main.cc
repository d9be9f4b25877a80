// Runs a fuzz target without libFuzzer (for gcc builds and ctest): every file of the
// seed corpus, then a fixed number of deterministic mutations of them. A crash or
// sanitizer report fails the test; `make fuzz` does the coverage-guided search.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR [MUTATIONS]\n";
    return 2;
  }
  const int mutations = argc > 2 ? std::stoi(argv[2]) : 20000;
  std::vector<std::string> seeds;
  for (const auto& e : std::filesystem::directory_iterator(argv[1])) {
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    seeds.push_back(ss.str());
  }
  if (seeds.empty()) {
    std::cerr << "no seeds in " << argv[1] << "\n";
    return 2;
  }
  for (const auto& s : seeds)
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  std::mt19937_64 rng(20261126);
  const std::string alphabet = ":/@[]{}-_.?=\n\t #'\"0123456789azAZ\\\x00\xff";
  for (int i = 0; i < mutations; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
      switch (rng() % 4) {
        case 0:
          s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 1:
          if (pos < s.size()) s.erase(pos, 1 + rng() % 4);
          break;
        case 2:
          if (pos < s.size()) s[pos] = static_cast<char>(rng() & 0xff);
          break;
        case 3: {
          const std::string& other = seeds[rng() % seeds.size()];
          s.insert(pos, other.substr(0, rng() % (other.size() + 1)));
          break;
        }
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  std::cout << seeds.size() << " seeds and " << mutations << " mutations ran clean\n";
  return 0;
}
