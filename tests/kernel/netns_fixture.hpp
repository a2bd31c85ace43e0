#pragma once

// ScratchNetns for gtest: RIASC_REQUIRE_NETNS() skips a test where namespaces cannot be made.

#include <gtest/gtest.h>

#include <exception>
#include <string>

#include "scratch_netns.hpp"

namespace riasc::net::test {

// Empty when this process may create network namespaces, else why not (for GTEST_SKIP).
inline std::string why_no_namespaces() {
  if (::geteuid() != 0) return "needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network namespaces";
  try {
    ScratchNetns probe;
  } catch (const std::exception& error) {
    return std::string("cannot create a network namespace here: ") + error.what();
  }
  return {};
}

#define RIASC_REQUIRE_NETNS()                                                            \
  do {                                                                                   \
    if (const std::string why = ::riasc::net::test::why_no_namespaces(); !why.empty()) { \
      GTEST_SKIP() << why;                                                               \
    }                                                                                    \
  } while (false)

}  // namespace riasc::net::test
