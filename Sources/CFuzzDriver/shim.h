#ifndef FKDC_FUZZ_DRIVER_H
#define FKDC_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>
/* libFuzzer's entry point for a program with its own main (compiler-rt FuzzerInterface.h);
   linked only when fkdc-fuzz is built with -sanitize=fuzzer (scripts/fuzz.sh). */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
