// The Passes module: graph optimisations, calibration and quantization (DESIGN.md,
// "Modules"). It imports GraphIR only; its passes arrive with the pass-manager issue.
