// Covered by push_decoders_test.cc (BatchWriter through each decoder).
#include "gtest/gtest.h"
