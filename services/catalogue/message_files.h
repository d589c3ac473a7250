// Loading catalogue requests (datasets with their schema, schemas, projects)
// from JSON or YAML files, for the CLI and the example files' tests.
//
// JSON goes through protobuf's JsonStringToMessage (proto field names or
// lowerCamelCase; enums by name). YAML is first converted to the same JSON:
// mappings -> objects, sequences -> arrays, unquoted true/false -> booleans,
// null/~ -> null, every other scalar -> a string (proto3 JSON accepts
// numbers as strings, so `threshold: 10` and `code: "01"` both work).
// Unknown fields are errors, so a typo is never silently ignored.
#ifndef DATALAB_SERVICES_CATALOGUE_MESSAGE_FILES_H_
#define DATALAB_SERVICES_CATALOGUE_MESSAGE_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace datalab::catalogue {

// INVALID_ARGUMENT with the line and column of a YAML syntax error.
absl::StatusOr<std::string> YamlToJson(const std::string& yaml);

// Parses `text` (YAML when `yaml`, else JSON) into `msg`.
absl::Status ParseMessage(const std::string& text, bool yaml, google::protobuf::Message* msg);

// Reads `path`; .yaml/.yml files are YAML, anything else JSON.
absl::Status LoadMessageFile(const std::string& path, google::protobuf::Message* msg);

}  // namespace datalab::catalogue

#endif  // DATALAB_SERVICES_CATALOGUE_MESSAGE_FILES_H_
