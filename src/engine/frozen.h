// An array that a builder fills and scans then only read, in place: from its own storage,
// or from a mapped cache file (a warm start copies nothing; see parsed_cache.h). Internal.
#pragma once

#include <span>
#include <string_view>
#include <type_traits>

#include "engine/huge_pages.h"

namespace avkey::engine {

template <typename T>
class Frozen {
  static_assert(std::is_trivially_copyable_v<T>, "a Frozen array is stored as raw bytes");

 public:
  // The builder's storage. Read through the view only after Freeze().
  HugeVector<T> own;
  // The view becomes `own`: call once the last element is in.
  void Freeze() { view_ = std::span<const T>(own.data(), own.size()); }
  // The view becomes `v` (owned elsewhere, e.g. a mapped file that outlives this).
  void Adopt(std::span<const T> v) {
    HugeVector<T>().swap(own);
    view_ = v;
  }
  std::span<const T> span() const { return view_; }
  size_t size() const { return view_.size(); }
  bool empty() const { return view_.empty(); }
  const T& operator[](size_t i) const { return view_[i]; }
  const T* begin() const { return view_.data(); }
  const T* end() const { return view_.data() + view_.size(); }

 private:
  std::span<const T> view_;
};

inline std::string_view AsText(const Frozen<char>& f) { return std::string_view(f.begin(), f.size()); }

}  // namespace avkey::engine
