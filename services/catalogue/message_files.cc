#include "services/catalogue/message_files.h"

#include <fstream>
#include <sstream>

#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace datalab::catalogue {
namespace {

nlohmann::json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json obj = nlohmann::json::object();
      for (const auto& kv : node) obj[kv.first.as<std::string>()] = ToJson(kv.second);
      return obj;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& item : node) arr.push_back(ToJson(item));
      return arr;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      // Tag "!" marks a quoted scalar: always a string.
      if (node.Tag() != "!") {
        if (s == "true" || s == "True" || s == "TRUE") return true;
        if (s == "false" || s == "False" || s == "FALSE") return false;
        if (s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
      }
      return s;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::string> YamlToJson(const std::string& yaml) {
  try {
    YAML::Node root = YAML::Load(yaml);
    // Invalid UTF-8 in a scalar becomes U+FFFD rather than an exception;
    // the protobuf parser then reports the field it landed in.
    return ToJson(root).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws; the exception stops here (no exceptions across modules).
    return absl::InvalidArgumentError(absl::StrCat("YAML line ", e.mark.line + 1, " column ",
                                                   e.mark.column + 1, ": ", e.msg));
  }
}

absl::Status ParseMessage(const std::string& text, bool yaml, google::protobuf::Message* msg) {
  std::string json = text;
  if (yaml) {
    auto converted = YamlToJson(text);
    if (!converted.ok()) return converted.status();
    json = *std::move(converted);
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  msg->Clear();
  auto status = google::protobuf::util::JsonStringToMessage(json, msg, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid ", msg->GetDescriptor()->name(), ": ",
                     std::string(status.message())));
  }
  return absl::OkStatus();
}

absl::Status LoadMessageFile(const std::string& path, google::protobuf::Message* msg) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buf;
  buf << in.rdbuf();
  const bool yaml = absl::EndsWith(path, ".yaml") || absl::EndsWith(path, ".yml");
  absl::Status s = ParseMessage(buf.str(), yaml, msg);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  return absl::OkStatus();
}

}  // namespace datalab::catalogue
