#!/usr/bin/env bash
# Coverage-guided fuzzing of one reader with libFuzzer:
#     scripts/fuzz.sh TARGET SECONDS [libFuzzer flags…]
# TARGET: pt safetensors onnx fkir fkdc npy image preprocessor-config (or "all": each for SECONDS).
# Builds fkdc-fuzz with -sanitize=fuzzer,address into .build-fuzz/, starts from the committed
# seed corpus fuzz/corpus/TARGET (new inputs go to .build-fuzz/corpus/TARGET), and leaves any
# crashing input in .build-fuzz/crashes/: commit it under Tests/Fixtures/hostile/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags…]}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags…]}
shift 2
scripts/install-deps.sh
swift build -c release --scratch-path .build-fuzz --product fkdc-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFKDC_LIBFUZZER -Xcc -fsanitize=fuzzer-no-link,address \
    -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld 2>&1 | tail -1
bin=.build-fuzz/release/fkdc-fuzz
if [ "$target" = all ]; then
    for t in pt safetensors onnx fkir fkdc npy image preprocessor-config; do "$0" "$t" "$seconds" "$@"; done
    exit 0
fi
[ -d "fuzz/corpus/$target" ] || { echo "fuzz.sh: no seed corpus fuzz/corpus/$target" >&2; exit 1; }
mkdir -p ".build-fuzz/corpus/$target" .build-fuzz/crashes
dict=()
[ -f "fuzz/dict/$target.dict" ] && dict=(-dict="fuzz/dict/$target.dict")
# 2 GB RSS and 10 s per input are the limits the hostile-input contract sets
FKDC_FUZZ_TARGET=$target SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$bin" \
    ".build-fuzz/corpus/$target" "fuzz/corpus/$target" "${dict[@]}" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=1048576 \
    -artifact_prefix=".build-fuzz/crashes/$target-" -print_final_stats=1 "$@"
