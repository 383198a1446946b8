# PromQL parser fuzzer: every input must either fail to parse with a Status, or parse into a
# tree whose printed form parses back to the same printed form.
vigil_fuzzer(promql_parser_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/promql_parser_fuzzer.cc
  LIBS vigil_promql)
