// libFuzzer entry point for the catalogue's request-file loader
// (services/catalogue/message_files.h): YAML -> JSON conversion with
// yaml-cpp, then protobuf's JSON parser into a real catalogue request. The
// CLI feeds it files a steward wrote, so it must fail cleanly (a status,
// never a crash, hang or escaping exception) on anything.
//
// The first byte picks the message type and YAML or JSON; the rest is the
// file. A successful parse must print back to JSON that parses again into an
// equal message.
// Build and run: scripts/checks/fuzz.sh (see tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "datalab/catalogue/v1/catalogue.pb.h"
#include "services/catalogue/message_files.h"

namespace cv1 = datalab::catalogue::v1;

namespace {

// Deterministic wire bytes (map order fixed), so NaN and -0 compare by bits
// rather than by value.
std::string Bytes(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool yaml = (control & 1) == 0;
  std::unique_ptr<google::protobuf::Message> msg;
  switch ((control >> 1) % 4) {
    case 0: msg = std::make_unique<cv1::CreateDatasetRequest>(); break;
    case 1: msg = std::make_unique<cv1::CreateProjectRequest>(); break;
    case 2: msg = std::make_unique<cv1::CreateUserRequest>(); break;
    default: msg = std::make_unique<cv1::Schema>(); break;
  }
  absl::Status s;
  try {
    if (yaml) (void)datalab::catalogue::YamlToJson(text);
    s = datalab::catalogue::ParseMessage(text, yaml, msg.get());
  } catch (const nlohmann::json::type_error& e) {
    // KNOWN FINDING (reported to the lead, issue 10): YamlToJson
    // (message_files.cc, `ToJson(root).dump()`) lets nlohmann's type_error 316
    // escape when a YAML scalar is not valid UTF-8 (a Windows-1252 "caf\xe9"
    // file terminates the CLI). Tolerated here only so the rest of the loader
    // keeps being fuzzed; delete this catch once YamlToJson returns a status.
    if (e.id == 316) return 0;
    throw;
  }
  if (!s.ok()) {
    if (s.code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(*msg, &json).ok()) __builtin_trap();
  std::unique_ptr<google::protobuf::Message> again(msg->New());
  if (!datalab::catalogue::ParseMessage(json, /*yaml=*/false, again.get()).ok()) __builtin_trap();
  if (Bytes(*msg) != Bytes(*again)) __builtin_trap();
  return 0;
}
