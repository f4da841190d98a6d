/* The constants fkdc's Swift code and its generated C share, defined once: Swift reads these
 * macros through the CKernels module, and every generated model.c carries this section. */
#ifndef FK_CONFIG_H
#define FK_CONFIG_H

/* @begin */
/* @kernel fk_config */
/* functions generated CUDA calls on the GPU too (the requantization of fk_arith.h): host and
 * device functions under a CUDA compiler, plain C elsewhere */
#if defined(__CUDACC__)
#define FK_HD __host__ __device__
#else
#define FK_HD
#endif
/* int8 add: each input, less its zero point, is shifted left by this many bits before it is
 * rescaled to the common grid 2 max(s_a, s_b) (DESIGN.md, "INT8 arithmetic") */
#define FK_ADD_SHIFT 20
/* fk_conv_dense gathers an output pixel's window (kh * kw * C values) into a buffer this long;
 * larger dense convolutions run fk_conv */
#define FK_DENSE_MAX_COLS 1024
/* fk_conv_dot gathers up to 16 pixels' windows, each padded to a multiple of 16, at most
 * this long; larger windows run fk_conv_dense */
#define FK_DOT_MAX_COLS 256
/* fk_pointwise's two-pixel paths pack at most this many input-channel pairs (K <= 2048) */
#define FK_POINTWISE_MAX_PAIRS 1024
/* fk_depthwise's AVX2 and NEON paths list a window's taps inside the image, at most this many
 * (larger windows run the portable path) */
#define FK_DW_MAX_TAPS 64
/* fk_depthwise's NEON path folds the zero point out of interior windows for at most this many
 * channels (a 4 KB bias on the stack; more channels take the tap-by-tap path) */
#define FK_DW_MAX_CH 1024
/* the strided copies of the float32 kernels and of external weights index at most this rank */
#define FK_MAX_RANK 8
/* the .fkdc header's CRC-32 field: 4 bytes at this offset, read as zeros when summing */
#define FK_FKDC_CRC_OFFSET 24
/* activation codes of fk_act and fk_unary_f32 (one numbering for both) */
#define FK_ACT_NONE 0
#define FK_ACT_RELU 1
#define FK_ACT_CLIP 2
#define FK_ACT_HARD_SWISH 3
#define FK_ACT_HARD_SIGMOID 4
#define FK_ACT_GELU 5
#define FK_ACT_SIGMOID 6
#define FK_ACT_SILU 7
/* image resampling (fk_image.h): filters, and the fraction bits of the fixed-point weights.
 * FK_FILTER_NEAREST: PIL's NEAREST under the PIL pipeline, torchvision's NEAREST (the source
 * index floor(i * in / out)) under the tensor pipeline */
#define FK_FILTER_NEAREST 0
#define FK_FILTER_BILINEAR 1
#define FK_FILTER_BICUBIC 2
/* nearest by the output pixel's centre (PIL's NEAREST, torchvision's NEAREST_EXACT); under the
 * PIL pipeline FK_FILTER_NEAREST is this too */
#define FK_FILTER_NEAREST_EXACT 3
#define FK_RESAMPLE_BITS 22
/* preprocessing (fk_preprocess_u8): the resize step, and the pixel formats it reads */
#define FK_RESIZE_NONE 0
#define FK_RESIZE_MODEL 1
#define FK_RESIZE_SHORTER 2
#define FK_RESIZE_EXACT 3
/* letterboxing: fit inside resize_h x resize_w keeping the aspect ratio (sides rounded half to
 * even, as ultralytics' LetterBox), or the height to resize_h and the width in proportion, rounded
 * up and capped at resize_w (PaddleOCR's text-line rule); the crop step then pads to the model's
 * size, centred or from the top left (FK_ALIGN_*) */
#define FK_RESIZE_FIT 4
#define FK_RESIZE_HEIGHT 5
#define FK_ALIGN_CENTRE 0
#define FK_ALIGN_TOP_LEFT 1
/* whose pipeline preprocessing follows: torchvision's transforms on PIL images (PIL's 8-bit
 * resize: fixed-point weights, 8-bit passes), torchvision's on float32 tensors (float32 weights
 * and passes, no rounding), or Hugging Face image processors (PIL's resize; the centre crop's
 * offset floored where torchvision rounds it) */
#define FK_PIPELINE_PIL 0
#define FK_PIPELINE_TENSOR 1
#define FK_PIPELINE_HF 2
#define FK_FORMAT_RGB 0
#define FK_FORMAT_BGR 1
#define FK_FORMAT_RGBA 2
#define FK_FORMAT_NV12 3
/* the largest side preprocessing resizes to or reads */
#define FK_IMAGE_MAX_SIDE 16384
/* @end */

#endif
