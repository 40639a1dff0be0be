#===- StaticLLVM.cmake - Link LLVM and MLIR statically ----------------------===#
#
# With MOE_STATIC=ON the tools link the static LLVM component libraries
# instead of libLLVM.so (MLIR is static already), plus static libstdc++ and
# libgcc, so that `moe-run` and friends run on hosts without LLVM installed,
# such as the GPU machines. Every exported MLIR/LLVM target names the shared
# `LLVM` library in its link interface; this rewrites that to the static
# components this project needs.
#
#===------------------------------------------------------------------------===#

set(LLVM_LINK_LLVM_DYLIB OFF)
set(_moe_skip LLVM LTO Remarks Polly LLVMExtensions LLVMLTO LLVMDTLTO
    LLVMDebuginfod LLVMLineEditor LLVMCFIVerify LLVMDiff LLVMOptDriver
    LLVMWindowsManifest LLVMExegesis LLVMFuzzerCLI LLVMFuzzMutate LLVMTableGen
    LLVMTableGenBasic LLVMTableGenCommon)
set(MOE_LLVM_STATIC_LIBS)
foreach(l ${LLVM_AVAILABLE_LIBS})
  if(l IN_LIST _moe_skip OR l MATCHES "^LLVM(BOLT|Exegesis)" OR l MATCHES
     "^LLVM(AArch64|AMDGPU|ARM|AVR|BPF|Hexagon|Lanai|LoongArch|Mips|MSP430|PowerPC|RISCV|Sparc|SPIRV|SystemZ|VE|WebAssembly|XCore|M68k|Xtensa)")
    continue()
  endif()
  list(APPEND MOE_LLVM_STATIC_LIBS ${l})
endforeach()
get_property(_moe_mlir_libs GLOBAL PROPERTY MLIR_ALL_LIBS)
foreach(t ${_moe_mlir_libs} ${MLIR_EXPORTED_TARGETS} ${LLVM_AVAILABLE_LIBS})
  if(TARGET ${t})
    get_target_property(_imp ${t} IMPORTED)
    get_target_property(_libs ${t} INTERFACE_LINK_LIBRARIES)
    if(_imp AND _libs AND "LLVM" IN_LIST _libs)
      list(REMOVE_ITEM _libs LLVM)
      list(APPEND _libs ${MOE_LLVM_STATIC_LIBS})
      set_target_properties(${t} PROPERTIES INTERFACE_LINK_LIBRARIES "${_libs}")
    endif()
  endif()
endforeach()
# --as-needed drops z3/xml2/ffi/edit, which nothing here calls.
add_link_options(-static-libstdc++ -static-libgcc -Wl,--as-needed)
