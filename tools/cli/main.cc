// datalab: the command-line client of the lab, for researchers, data
// stewards, approvers, the DPO and trust IT. Wiring only: commands live in
// their own files.
#include <iostream>
#include <string>
#include <vector>

#include "tools/cli/cli.h"

int main(int argc, char** argv) {
  datalab::cli::Registry registry;
  datalab::cli::RegisterAllCommands(registry);
  return datalab::cli::Main(registry, std::vector<std::string>(argv + 1, argv + argc), std::cout,
                            std::cerr);
}
