// DeepSeek-V3: 256 routed experts, top-8, sigmoid scores with e_score_correction_bias, 8 groups of which 4 kept, renormalized, routed_scaling_factor 2.5.
// MXFP4ãˆš–ghts (e2m1, 1x
// ODS: wrong element type of ids (float ids).
func.func @negative_route_3