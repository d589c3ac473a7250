#include "tools/cli/cli.h"

namespace datalab::cli {

void RegisterAllCommands(Registry& r) {
  RegisterIdentityCommands(r);
  RegisterHealthCommands(r);
  RegisterCatalogueCommands(r);
}

}  // namespace datalab::cli
