// datalab-audit-verify --export FILE.jsonl
// Verifies a JSON Lines export of the audit log offline (see verifier.h).
// Exit status: 0 verified, 1 verification failed, 2 usage or I/O error.
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "services/audit/verifier.h"

int main(int argc, char** argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--export" && i + 1 < argc) {
      path = argv[++i];
    } else if (a.rfind("--export=", 0) == 0) {
      path = a.substr(9);
    } else {
      std::cerr << "usage: datalab-audit-verify --export FILE.jsonl\n";
      return 2;
    }
  }
  if (path.empty()) {
    std::cerr << "usage: datalab-audit-verify --export FILE.jsonl\n";
    return 2;
  }
  std::ifstream in(path);
  if (!in) {
    std::cerr << "cannot read " << path << "\n";
    return 2;
  }
  datalab::audit::VerifyReport report = datalab::audit::VerifyJsonLines(in);
  std::cout << datalab::audit::FormatReport(report) << "\n";
  return report.ok ? 0 : 1;
}
