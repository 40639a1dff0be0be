// The dialect and pass docs in docs/ are generated from ODS; this fails when
// they are stale. Fix: scripts/update-docs.sh.
// RUN: diff %moe_obj_root/docs/Dialects/MoE.md %moe_src_root/docs/Dialects/MoE.md
// RUN: diff %moe_obj_root/docs/MoEPasses.md %moe_src_root/docs/Passes.md
