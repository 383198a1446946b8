# Rules and notify fuzzers: rule files (YAML + PromQL + templates), templates executed over
# fixed data, and Alertmanager configs. Any input may be rejected; none may crash.
vigil_fuzzer(rule_file_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/rule_file_fuzzer.cc
  LIBS vigil_rules)
vigil_fuzzer(template_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/template_fuzzer.cc
  LIBS vigil_rules)
vigil_fuzzer(notify_config_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/notify_config_fuzzer.cc
  LIBS vigil_notify)
