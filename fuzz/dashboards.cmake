# Dashboards API documents (http/dashboard_store.h): any body may be refused, none may
# crash, and an accepted one must be accepted again as GET returns it.
vigil_fuzzer(dashboard_fuzzer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/dashboard_fuzzer.cc
  LIBS vigil_http_dashboards)
