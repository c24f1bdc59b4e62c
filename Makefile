# The two set-up commands of the README, plus the sanitizer suite CI runs:
#   make demo            install what is missing, build, run the demo
#   make test            install what is missing, build, run the whole test suite
#   make test-sanitize   the suite under AddressSanitizer + UndefinedBehaviorSanitizer (CUDA off), less the
#                        tests labelled heavy (release build only)
#   make test-race       the C API's threads under ThreadSanitizer (tests/capi_race_test.cpp)
BUILD ?= build
SANITIZE_BUILD ?= build-sanitize
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

# ccache keys on paths relative to the checkout, so a fresh clone elsewhere reuses the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps build test demo test-sanitize test-race bench bench-full bench-rss bench-kernels fuzz format clean

all: build

deps:
	@scripts/install_deps.sh

# Configuring every time is cheap (cached) and picks up changed CMAKE_ARGS.
build: deps
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) -j $(JOBS) --output-on-failure

# DEMO_ARGS: more `frost demo` flags (the heavy demo test runs this target with --json --out DIR).
DEMO_ARGS ?=
demo: build
	$(BUILD)/frost demo $(DEMO_ARGS)

test-sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFROST_SANITIZE=ON -DFROST_CUDA=OFF \
	  -DFROST_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(SANITIZE_BUILD) -j $(JOBS) --output-on-failure -LE heavy

# The C API's thread safety under ThreadSanitizer: a TSan build of the library and tests/capi_race_test.cpp
# (eight threads on one model and one index). Only that program is built: the rest is the release suite's.
RACE_BUILD ?= build-race
test-race: deps
	@cmake -S . -B $(RACE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFROST_TSAN=ON -DFROST_CUDA=OFF \
	  -DFROST_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(RACE_BUILD) -j $(JOBS) --target capi_race_test
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --test-dir $(RACE_BUILD) -R '^capi_race$$' \
	  --output-on-failure

# frost beside PyTorch eager (bench) and also torch.compile and ONNX Runtime (bench-full), side by side in
# one run (bench/compare_pytorch.py; docs/benchmarks.md). The first run makes the Python environment of
# the contenders (scripts/bench_env.sh). BENCH_ARGS: more flags, e.g. --threads 4 or --only text/b1.
BENCH_ARGS ?=
bench: build
	$$(scripts/bench_env.sh) bench/compare_pytorch.py --mode quick --bin $(BUILD)/bench \
	  --out-dir $(BUILD)/bench-compare $(BENCH_ARGS)

bench-full: build
	$$(scripts/bench_env.sh) bench/compare_pytorch.py --mode full --bin $(BUILD)/bench \
	  --out-dir $(BUILD)/bench-compare-full $(BENCH_ARGS)

# Whole-process peak memory of one embedding job, frost's command beside PyTorch (bench/process_rss.py).
bench-rss: build
	$$(scripts/bench_env.sh) bench/process_rss.py --frost $(BUILD)/frost --out-dir $(BUILD)/bench-rss $(BENCH_ARGS)

# frost's own micro-benchmarks (Google Benchmark): kernels, loaders, the model fused and unfused.
bench-kernels: build
	$(BUILD)/bench/bench_kernels
	$(BUILD)/bench/bench_loader
	$(BUILD)/bench/bench_model

# libFuzzer (clang) on each fuzz target for FUZZ_SECONDS, growing tests/fuzz/corpus/<target>; crashes are
# written to tests/fuzz/crashes/ (commit them once fixed: the replay test keeps them fixed).
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= build-fuzz
FUZZ_FLAGS = -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I.
FUZZ_ENGINE = engine/error.cpp engine/dtype.cpp engine/shape.cpp engine/storage.cpp
FUZZ_TARGETS ?= safetensors tokenizer image pytorch_checkpoint
fuzz: deps
	@scripts/install_deps.sh fuzz
	@mkdir -p $(FUZZ_DIR) tests/fuzz/crashes
	clang++ $(FUZZ_FLAGS) tests/fuzz/safetensors_fuzz.cpp loader/safetensors.cpp $(FUZZ_ENGINE) -o $(FUZZ_DIR)/safetensors_fuzz
	cmake -DOUT=$(FUZZ_DIR)/embedded_data.cpp -DNAMESPACE=frost::loader \
	  "-DNAMES=default_vocab_text;default_vocab_notice" \
	  "-DFILES=loader/data/bert-base-uncased-vocab.txt;loader/data/NOTICE.md" -P cmake/embed_text.cmake
	clang++ $(FUZZ_FLAGS) tests/fuzz/tokenizer_fuzz.cpp loader/tokenizer.cpp $(FUZZ_DIR)/embedded_data.cpp \
	  $(FUZZ_ENGINE) -lutf8proc -lcrypto -o $(FUZZ_DIR)/tokenizer_fuzz
	clang++ $(FUZZ_FLAGS) tests/fuzz/image_fuzz.cpp loader/image.cpp loader/stb_impl.cpp loader/jpeg_decode.cpp \
	  $(FUZZ_ENGINE) -ljpeg -o $(FUZZ_DIR)/image_fuzz
	clang++ $(FUZZ_FLAGS) tests/fuzz/pytorch_checkpoint_fuzz.cpp loader/pytorch_checkpoint.cpp loader/pickle.cpp \
	  loader/files.cpp $(FUZZ_ENGINE) -lminizip -lz -o $(FUZZ_DIR)/pytorch_checkpoint_fuzz
	for t in $(FUZZ_TARGETS); do \
	  $(FUZZ_DIR)/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 \
	    -artifact_prefix=tests/fuzz/crashes/$$t- tests/fuzz/corpus/$$t || exit 1; \
	done

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp' '*.cu')

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD)
