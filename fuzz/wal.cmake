# WAL fuzzers (owned by the wal work): record payload decoders and the segment reader.
vigil_fuzzer(wal_record_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/wal_record_fuzzer.cc
  LIBS vigil_storage_wal)
vigil_fuzzer(wal_reader_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/wal_reader_fuzzer.cc
  LIBS vigil_storage_wal)
