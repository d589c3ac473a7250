#include "common/jwt/internal/strict_json.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace datalab::jwt::internal {
namespace {

using json = nlohmann::json;

// A validating SAX pass: it builds nothing, so depth and duplicate checks run
// before any tree exists. Returning false stops the parse.
class Checker final : public nlohmann::json_sax<json> {
 public:
  explicit Checker(int max_depth) : max_depth_(max_depth) {}

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return false; }

  bool start_object(std::size_t) override {
    if (++depth_ > max_depth_) return false;
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    if (keys_.empty()) return false;
    return keys_.back().insert(k).second;
  }
  bool end_object() override {
    --depth_;
    if (!keys_.empty()) keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return ++depth_ <= max_depth_; }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  const int max_depth_;
  int depth_ = 0;
  std::vector<absl::flat_hash_set<std::string>> keys_;
};

}  // namespace

std::optional<json> ParseStrictJson(std::string_view text, int max_depth) {
  try {
    Checker checker(max_depth);
    if (!json::sax_parse(text.begin(), text.end(), &checker,
                         json::input_format_t::json, /*strict=*/true,
                         /*ignore_comments=*/false)) {
      return std::nullopt;
    }
    json value = json::parse(text.begin(), text.end(), nullptr,
                             /*allow_exceptions=*/false);
    if (value.is_discarded()) return std::nullopt;
    return value;
  } catch (...) {
    // Neither call should throw with these arguments (only allocation can);
    // an exception must still never escape a verifier.
    return std::nullopt;
  }
}

}  // namespace datalab::jwt::internal
