# -*- Python -*-
# Runs the GoogleTest binaries of unittests/ as lit tests (as MLIR's
# test/Unit does), so that check-moe runs every test.

import os

import lit.formats

config.name = "MOE-Unit"
config.suffixes = []
config.test_exec_root = os.path.join(config.moe_obj_root, "unittests")
config.test_source_root = config.test_exec_root
config.test_format = lit.formats.GoogleTest(".", "tests")
