// Errors as values: the project's Result type is tl::expected (Debian's libexpected-dev).
#pragma once

#include <tl/expected.hpp>

namespace ispf {

template <class T, class E>
using Result = tl::expected<T, E>;

template <class E>
auto fail(E&& error) {
  return tl::make_unexpected(std::forward<E>(error));
}

}  // namespace ispf
