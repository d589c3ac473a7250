// datalab: the command-line client of the lab, for researchers, data
// stewards, approvers, the DPO and trust IT. Wiring only: commands live in
// their own files.
#include <iostream>
#include <string>
#include <vector>

#include "tools/cli/cli.h"

namespace {

void PrintHelp(const datalab::cli::Registry& r, std::ostream& out) {
  out << "datalab: the command-line client of the datalab virtual data lab\n\n"
         "usage: datalab <command> [options]      datalab <command> --help\n\n"
         "commands:\n";
  for (const auto& c : r.commands()) {
    out << "  " << c.name << std::string(c.name.size() < 28 ? 28 - c.name.size() : 1, ' ')
        << c.summary << "\n";
  }
  out << "\ncommon options: --env FILE (lab.env of a local lab; default var/lab.env or\n"
         "$DATALAB_ENV), --gateway HOST:PORT, --ca FILE, --token-file FILE\n\n"
         "exit codes: 0 ok, 1 error, 2 usage, 3 not logged in, 4 not allowed,\n"
         "5 not found, 6 lab unavailable (retry), 7 input refused, 8 unhealthy\n";
}

}  // namespace

int main(int argc, char** argv) {
  datalab::cli::Registry registry;
  datalab::cli::RegisterAllCommands(registry);

  std::vector<std::string> all(argv + 1, argv + argc);
  // Options common to every command may also come before it:
  //   datalab --as researcher query ...
  std::vector<std::string> globals;
  std::vector<std::string> words;
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string& w = all[i];
    bool global = false;
    for (const char* g : {"--as", "--env", "--gateway", "--ca", "--token-file"}) {
      std::string flag(g);
      if (w == flag && i + 1 < all.size() && words.empty()) {
        globals.push_back(w);
        globals.push_back(all[++i]);
        global = true;
        break;
      }
      if (w.rfind(flag + "=", 0) == 0 && words.empty()) {
        globals.push_back(w);
        global = true;
        break;
      }
    }
    if (!global) words.push_back(w);
  }
  if (words.empty() || words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
    PrintHelp(registry, std::cout);
    return words.empty() ? datalab::cli::kUsage : datalab::cli::kOk;
  }
  size_t consumed = 0;
  const datalab::cli::Command* cmd = registry.Find(words, &consumed);
  if (cmd == nullptr) {
    std::cerr << "error: unknown command '" << words[0]
              << "' (run `datalab --help` for the list)\n";
    return datalab::cli::kUsage;
  }
  std::vector<std::string> rest(words.begin() + consumed, words.end());
  rest.insert(rest.end(), globals.begin(), globals.end());
  auto args = datalab::cli::Args::Parse(rest, {"json", "csv", "yes", "quiet", "wait", "allow-duplicate", "reversible"});
  if (!args.ok()) {
    std::cerr << "error: " << args.status().message() << " (see `datalab " << cmd->name
              << " --help`)\n";
    return datalab::cli::kUsage;
  }
  if (args->Has("help")) {
    std::cout << cmd->usage << "\n";
    return datalab::cli::kOk;
  }
  return cmd->run(*args, std::cout, std::cerr);
}
