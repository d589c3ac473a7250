// datalab-e2e-probe: a raw gRPC client for the end-to-end and attack suites.
//
// Calls any method of any datalab service by its full name, with a request
// given as JSON, over TLS (optionally mTLS with a service's certificate), a
// bearer token, an explicit deadline and optional padding (an unknown
// length-delimited field, to build oversized messages without the CLI's own
// size limits). Prints one line "code=<GRPC_CODE> elapsed_ms=<N>
// message=<status message>" and, on success, the response as JSON on the
// next line. Exit status: 0 when the call returned OK, 1 otherwise, 2 on
// bad usage. Test scaffolding only: it holds no secrets of its own.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "datalab/audit/v1/audit.grpc.pb.h"
#include "datalab/catalogue/v1/catalogue.grpc.pb.h"
#include "datalab/gateway/v1/gateway.grpc.pb.h"
#include "datalab/ingestion/v1/ingestion.grpc.pb.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.grpc.pb.h"
#include "datalab/query/v1/query.grpc.pb.h"

namespace {

const char* kCodeNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                            "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
                            "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                            "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                            "UNAUTHENTICATED"};

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

void Usage() {
  std::cerr << "usage: datalab-e2e-probe --target HOST:PORT --ca CA.pem --method /pkg.Service/Method\n"
               "  [--json '{...}' | --json-file F] [--token T | --token-file F]\n"
               "  [--cert C.pem --key K.pem] [--server-name localhost] [--deadline-ms N]\n"
               "  [--pad-bytes N] [--metadata key=value]\n";
}

}  // namespace

int main(int argc, char** argv) {
  // Make sure every service's descriptors are linked into the pool.
  (void)datalab::audit::v1::AppendEventsRequest::descriptor();
  (void)datalab::catalogue::v1::Dataset::descriptor();
  (void)datalab::gateway::v1::WhoAmIRequest::descriptor();
  (void)datalab::ingestion::v1::Job::descriptor();
  (void)datalab::pseudonymisation::v1::PseudonymiseRequest::descriptor();
  (void)datalab::query::v1::RunQueryRequest::descriptor();

  std::map<std::string, std::string> a;
  std::multimap<std::string, std::string> metadata;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || i + 1 >= argc) {
      Usage();
      return 2;
    }
    std::string v = argv[++i];
    if (k == "--metadata") {
      size_t eq = v.find('=');
      if (eq == std::string::npos) { Usage(); return 2; }
      metadata.emplace(v.substr(0, eq), v.substr(eq + 1));
    } else {
      a[k.substr(2)] = v;
    }
  }
  if (!a.count("target") || !a.count("ca") || !a.count("method")) {
    Usage();
    return 2;
  }
  std::string method = a["method"];  // "/datalab.query.v1.QueryService/RunQuery"
  std::string full = method.substr(1);
  size_t slash = full.find('/');
  if (method[0] != '/' || slash == std::string::npos) {
    std::cerr << "--method must look like /datalab.x.v1.XService/Method\n";
    return 2;
  }
  full[slash] = '.';
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const google::protobuf::MethodDescriptor* md = pool->FindMethodByName(full);
  if (md == nullptr) {
    std::cerr << "unknown method " << method << "\n";
    return 2;
  }
  google::protobuf::DynamicMessageFactory factory(pool);
  std::unique_ptr<google::protobuf::Message> req(factory.GetPrototype(md->input_type())->New());
  std::unique_ptr<google::protobuf::Message> resp(factory.GetPrototype(md->output_type())->New());
  std::string json = a.count("json") ? a["json"] : "{}";
  if (a.count("json-file") && !ReadFile(a["json-file"], &json)) {
    std::cerr << "cannot read " << a["json-file"] << "\n";
    return 2;
  }
  auto js = google::protobuf::util::JsonStringToMessage(json, req.get());
  if (!js.ok()) {
    std::cerr << "request JSON: " << js.ToString() << "\n";
    return 2;
  }
  std::string wire = req->SerializeAsString();
  if (a.count("pad-bytes")) {
    // An unknown field 1000, wire type 2 (length-delimited), of N bytes.
    uint64_t n = std::stoull(a["pad-bytes"]);
    uint64_t tag = (1000u << 3) | 2u;
    auto varint = [&wire](uint64_t x) {
      while (x >= 0x80) {
        wire.push_back(static_cast<char>((x & 0x7f) | 0x80));
        x >>= 7;
      }
      wire.push_back(static_cast<char>(x));
    };
    varint(tag);
    varint(n);
    wire.append(n, 'x');
  }

  grpc::SslCredentialsOptions ssl;
  if (!ReadFile(a["ca"], &ssl.pem_root_certs)) {
    std::cerr << "cannot read " << a["ca"] << "\n";
    return 2;
  }
  if (a.count("cert") && (!ReadFile(a["cert"], &ssl.pem_cert_chain) ||
                          !ReadFile(a["key"], &ssl.pem_private_key))) {
    std::cerr << "cannot read --cert/--key\n";
    return 2;
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(a.count("server-name") ? a["server-name"] : "localhost");
  args.SetMaxSendMessageSize(-1);
  args.SetMaxReceiveMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(a["target"], grpc::SslCredentials(ssl), args);

  std::string token = a.count("token") ? a["token"] : "";
  if (a.count("token-file")) {
    if (!ReadFile(a["token-file"], &token)) {
      std::cerr << "cannot read " << a["token-file"] << "\n";
      return 2;
    }
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  }
  grpc::ClientContext ctx;
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  for (const auto& [k, v] : metadata) ctx.AddMetadata(k, v);
  int64_t deadline_ms = a.count("deadline-ms") ? std::stoll(a["deadline-ms"]) : 30000;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));

  grpc::Slice slice(wire);
  grpc::ByteBuffer send(&slice, 1);
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  auto t0 = std::chrono::steady_clock::now();
  auto call = stub.PrepareUnaryCall(&ctx, method, send, &cq);
  call->StartCall();
  grpc::ByteBuffer recv;
  grpc::Status status;
  call->Finish(&recv, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0).count();
  int code = static_cast<int>(status.error_code());
  std::string msg = status.error_message();
  for (char& c : msg) if (c == '\n') c = ' ';
  std::cout << "code=" << (code >= 0 && code <= 16 ? kCodeNames[code] : "?") << " elapsed_ms=" << ms
            << " message=" << msg << "\n";
  if (status.ok()) {
    std::vector<grpc::Slice> slices;
    (void)recv.Dump(&slices);
    std::string bytes;
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    if (resp->ParseFromString(bytes)) {
      std::string out;
      google::protobuf::util::JsonPrintOptions o;
      o.preserve_proto_field_names = true;
      (void)google::protobuf::util::MessageToJsonString(*resp, &out, o);
      std::cout << out << "\n";
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status.ok() ? 0 : 1;
}
