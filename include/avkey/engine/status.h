// Errors as values: Status and Result<T>.
//
// Result<T> uses std::expected's member names (has_value, value, error, operator*)
// so it can become an alias when the toolchain has C++23. Neither type throws.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace avkey {

// What went wrong, in words a user can act on ("sigs.ndb:12: bad offset 'EP+x'").
class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message), true); }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  Status(std::string message, bool failed) : message_(std::move(message)), failed_(failed) {}
  std::string message_;
  bool failed_ = false;
};

// Wraps an error message for constructing a failed Result<T> (like std::unexpected).
struct Unexpected {
  std::string message;
};
inline Unexpected Fail(std::string message) { return Unexpected{std::move(message)}; }

// Either a T or an error message.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Unexpected e) : v_(std::in_place_index<1>, std::move(e.message)) {}  // NOLINT
  Result(const Status& s) : v_(std::in_place_index<1>, s.message()) {}  // NOLINT: must be an error

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const std::string& error() const { return std::get<1>(v_); }
  Status status() const { return has_value() ? Status::Ok() : Status::Error(error()); }

 private:
  std::variant<T, std::string> v_;
};

}  // namespace avkey
