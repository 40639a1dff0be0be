# -*- Python -*-
# lit configuration of the MoE compiler's regression tests.

import os
import sys

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "MOE"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.moe_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs",
                   "check-each-split.py"]

llvm_config.use_default_substitutions()  # FileCheck, not, count
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# MOE_OPT_CHECK_IR_ROUNDTRIP=1 makes every moe-opt run also check that its
# output prints and parses back to the same IR.
moe_opt_args = []
if os.environ.get("MOE_OPT_CHECK_IR_ROUNDTRIP"):
    moe_opt_args = ["--verify-roundtrip"]

tools = [
    ToolSubst("moe-opt", extra_args=moe_opt_args, unresolved="fatal"),
    ToolSubst("moe-translate", unresolved="fatal"),
    ToolSubst("moe-run", unresolved="fatal"),
    ToolSubst("moe-jit", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, [config.moe_tools_dir])
config.substitutions.append(("%examples", os.path.join(config.moe_src_root, "examples")))
config.substitutions.append(("%moe_obj_root", config.moe_obj_root))
config.substitutions.append(("%python", sys.executable))
config.substitutions.append(("%moe_src_root", config.moe_src_root))

runtime_lib = os.path.join(config.moe_obj_root, "lib", "libmoe_cuda_runtime.so")
if os.path.exists(runtime_lib):
    config.available_features.add("moe-runtime")
    config.substitutions.append(("%moe_runtime_lib", runtime_lib))

if config.ptxas and os.path.exists(config.ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.ptxas))

# mlir-runner with the C runner utilities: executes lowered index arithmetic
# on the CPU (e.g. the grouped tile order).
runner_utils = os.path.join(os.path.dirname(config.llvm_tools_dir), "lib",
                            "libmlir_c_runner_utils.so")
if (os.path.exists(os.path.join(config.llvm_tools_dir, "mlir-runner"))
        and os.path.exists(runner_utils)):
    config.available_features.add("mlir-runner")
    config.substitutions.append(("%mlir_c_runner_utils", runner_utils))
