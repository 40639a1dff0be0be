// The dialect and pass docs in docs/ are generated from ODS; this fails when
// they are stale. Fix: scripts/update-docs.sh.
// RUN: diff %moe_obj_root/docs/Dialects/MoE.md %moe_src_root/docs/Dialects/MoE.md
// RUN: diff %moe_obj_root/docs/MoEPasses.md %moe_src_root/docs/Passes.md
// RUN: diff %moe_obj_root/docs/Dialects/MoEKernel.md %moe_src_root/docs/Dialects/MoEKernel.md
// RUN: diff %moe_obj_root/docs/MoECodegenPasses.md %moe_src_root/docs/CodegenPasses.md
