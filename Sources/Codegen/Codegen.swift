// The Codegen module: the `.fkdc` binary writer and reader, the memory planner and the C and
// CUDA emitters (DESIGN.md, "Modules"). It imports GraphIR only.
