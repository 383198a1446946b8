# Fuzz targets for scraping (owned by the scrape work). Corpus: fuzz/corpus/scrape_config.
vigil_fuzzer(scrape_config_fuzzer SOURCES scrape_config_fuzzer.cc LIBS vigil_scrape)
