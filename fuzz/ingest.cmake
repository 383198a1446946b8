# Fuzz targets for ingestion (owned by the ingest work). Corpus: fuzz/corpus/remote_write.
vigil_fuzzer(remote_write_fuzzer SOURCES remote_write_fuzzer.cc
  LIBS vigil_ingest vigil_ingest_pb Snappy::snappy)
