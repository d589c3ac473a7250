#include "tools/cli/cli.h"

namespace datalab::cli {

void RegisterAllCommands(Registry& r) {
  RegisterIdentityCommands(r);
  RegisterHealthCommands(r);
  RegisterAuditCommands(r);
  RegisterCatalogueCommands(r);
  RegisterQueryCommands(r);
  RegisterUploadCommands(r);
  RegisterPseudonymisationCommands(r);
}

}  // namespace datalab::cli
