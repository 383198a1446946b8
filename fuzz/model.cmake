# Regex fast paths: every answer must equal RE2's.
vigil_fuzzer(regex_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/regex_fuzzer.cc LIBS vigil_model)
