// sim_tests' main: takes --seed N, --hours H and --chaos off argv, then hands the rest to gtest.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sim/chaos.h"

namespace ispf::sim {
SimFlags& flags() {
  static SimFlags f;
  return f;
}
}  // namespace ispf::sim

int main(int argc, char** argv) {
  std::vector<char*> rest;
  static std::string filter = "--gtest_filter=Chaos*";
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--seed" && has_value) {
      ispf::sim::flags().seed = std::strtoull(argv[++i], nullptr, 0);
    } else if (arg == "--hours" && has_value) {
      ispf::sim::flags().hours = std::strtod(argv[++i], nullptr);
    } else if (arg == "--trace") {
      ispf::sim::flags().trace = true;
    } else if (arg == "--chaos") {
      ispf::sim::flags().chaos_only = true;
    } else {
      rest.push_back(argv[i]);
    }
  }
  // --chaos runs the chaos tests only; an explicit --gtest_filter given later still wins.
  if (ispf::sim::flags().chaos_only) rest.insert(rest.begin() + 1, filter.data());
  int rest_argc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  testing::InitGoogleTest(&rest_argc, rest.data());
  return RUN_ALL_TESTS();
}
