// Private to src/scan tests: a ChildSink that records what an extractor produced.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scan/extract.h"

namespace avkey::scan {

class RecordingSink : public ChildSink {
 public:
  struct Item {
    std::string name;
    std::string data;
  };
  explicit RecordingSink(uint64_t room = 1u << 20, size_t max_children = 1000)
      : room_(room), max_children_(max_children) {}

  uint64_t Room() const override { return room_; }
  void Overflow() override { ++overflows; }
  bool Child(std::string name, std::span<const uint8_t> data) override {
    if (data.size() > room_) {
      ++overflows;
      return false;
    }
    children.push_back({std::move(name), std::string(data.begin(), data.end())});
    return children.size() < max_children_;
  }
  void Problem(std::string code, std::string detail) override {
    problems.emplace_back(std::move(code), std::move(detail));
  }
  std::vector<uint8_t>& Buffer() override { return buffer_; }

  bool HasProblem(std::string_view code) const {
    for (const auto& p : problems) {
      if (p.first == code) return true;
    }
    return false;
  }

  std::vector<Item> children;
  std::vector<std::pair<std::string, std::string>> problems;
  int overflows = 0;

 private:
  uint64_t room_;
  size_t max_children_;
  std::vector<uint8_t> buffer_;
};

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace avkey::scan
