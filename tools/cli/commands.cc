#include "tools/cli/cli.h"

namespace datalab::cli {

void RegisterAllCommands(Registry& r) {
  RegisterIdentityCommands(r);
  RegisterHealthCommands(r);
}

}  // namespace datalab::cli
