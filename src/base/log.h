// Logging: a thin layer over spdlog so every module logs the same way.
//
// Lines are "ts level component: message", e.g.
//   2026-11-22T07:40:00.123Z info wal: replayed segment 3/12 (25%)
// Use VLOG_INFO("wal", "replayed segment {}/{}", i, n) with fmt-style arguments.
//
// Thread-safety: all functions may be called from any thread.
#pragma once

#include <string_view>

#include "spdlog/spdlog.h"

namespace vigil::log {

// Sets the minimum level: "debug", "info", "warn", "error". Returns false for an unknown name.
bool SetLevel(std::string_view level);

// Installs the standard format on the default logger (stderr). Called once by main.
void Init();

}  // namespace vigil::log

#define VLOG_DEBUG(component, ...) ::spdlog::debug("{}: {}", component, ::fmt::format(__VA_ARGS__))
#define VLOG_INFO(component, ...) ::spdlog::info("{}: {}", component, ::fmt::format(__VA_ARGS__))
#define VLOG_WARN(component, ...) ::spdlog::warn("{}: {}", component, ::fmt::format(__VA_ARGS__))
#define VLOG_ERROR(component, ...) ::spdlog::error("{}: {}", component, ::fmt::format(__VA_ARGS__))
