# Fuzz targets for the chunk codecs and the block index (owned by the block/chunkenc/index
# work). Corpora: fuzz/corpus/chunk_xor, chunk_block, index_reader.
vigil_fuzzer(chunk_xor_fuzzer SOURCES chunk_xor_fuzzer.cc LIBS vigil_storage_chunkenc)
vigil_fuzzer(chunk_block_fuzzer SOURCES chunk_block_fuzzer.cc LIBS vigil_storage_chunkenc)
vigil_fuzzer(index_reader_fuzzer SOURCES index_reader_fuzzer.cc LIBS vigil_storage_index)
