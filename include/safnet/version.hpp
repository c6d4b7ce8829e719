// safnet/version.hpp — library version (kept in step with project(VERSION) in CMakeLists.txt).
#pragma once

#define SAFNET_VERSION_MAJOR 0
#define SAFNET_VERSION_MINOR 1
#define SAFNET_VERSION_PATCH 0

namespace safnet {
inline constexpr const char* version_string = "0.1.0";
}  // namespace safnet
