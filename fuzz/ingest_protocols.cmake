# Fuzz targets for the push decoders beside remote_write (engineer F's part of issue 3).
# Corpora: fuzz/corpus/<name>/. Include from fuzz/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/ingest_protocols.cmake OPTIONAL)
vigil_fuzzer(text_parser_fuzzer SOURCES text_parser_fuzzer.cc LIBS vigil_ingest_push)
vigil_fuzzer(influx_fuzzer SOURCES influx_fuzzer.cc LIBS vigil_ingest_push)
vigil_fuzzer(json_ingest_fuzzer SOURCES json_ingest_fuzzer.cc LIBS vigil_ingest_push)
vigil_fuzzer(statsd_fuzzer SOURCES statsd_fuzzer.cc LIBS vigil_ingest_push)
vigil_fuzzer(otlp_fuzzer SOURCES otlp_fuzzer.cc LIBS vigil_ingest_push)
vigil_fuzzer(decompress_fuzzer SOURCES decompress_fuzzer.cc LIBS vigil_ingest_push)
vigil_fuzzer(otlp_json_fuzzer SOURCES otlp_json_fuzzer.cc LIBS vigil_ingest_push)
