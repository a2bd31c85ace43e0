# A thin layer over the CMake presets (CMakePresets.json); `make build` leaves build/riasc.
# Extra CMake flags: make build CMAKE_FLAGS=-DRIASC_WERROR=ON
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 60
SOURCES = $(shell git ls-files --cached --others --exclude-standard '*.cpp' '*.hpp')

.PHONY: build test asan vm-test vm fuzz bench bench-netem docs format format-check clean

build:
	@cmake --preset default $(CMAKE_FLAGS) >/dev/null
	@cmake --build --preset default

test:
	@cmake --preset default -DRIASC_TESTS=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build --preset default
	@ctest --preset default || { bash tools/failed-tests.sh build; exit 8; }

# Unit and CLI tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	@cmake --preset asan -DRIASC_TESTS=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build --preset asan
	@ctest --preset asan || { bash tools/failed-tests.sh build-asan; exit 8; }

# The tests with label vm (tests/vm/) on Debian bookworm's own kernel in a QEMU VM, for the kernel
# modules this machine lacks (netem, prio, fw, WireGuard); docs/testing-vm.md. The VM sees this
# machine's / read-only, and build/ read-write for ctest's results.
vm-test:
	@cmake --preset default -DRIASC_TESTS=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build --preset default
	@bash tools/vm/build-image.sh
	@RIASC_VM_CPUS=2 RIASC_VM_RW="$(CURDIR)/build" bash tools/vm/run.sh ctest --test-dir build -L vm --output-on-failure

# Any bash command in the VM, from this directory, with build/ writable. CMD reaches bash through
# the environment, so quotes pass unchanged; make itself expands $, so write $$ for one:
#   make vm CMD='build/tests/unit/riasc_unit_tests --gtest_filter=Json*'
vm: export CMD ?= bash tests/vm/kernel_features_test.sh
vm:
	@bash tools/vm/build-image.sh
	@mkdir -p build
	@RIASC_VM_RW="$(CURDIR)/build" bash tools/vm/run.sh -c "$$CMD"

# Under libFuzzer (clang), each for FUZZ_SECONDS seconds: YAML → JSON → validate, then the API
# server's request side (request targets, protobuf bodies, patch engines, server-side apply).
# New inputs go to the git-ignored tests/fuzz/*-work corpora.
fuzz:
	@cmake --preset fuzz $(CMAKE_FLAGS) >/dev/null
	@cmake --build --preset fuzz --target riasc_validate_fuzzer riasc_request_fuzzer
	@mkdir -p tests/fuzz/corpus-work tests/fuzz/request-work
	@build-fuzz/tests/fuzz/riasc_validate_fuzzer -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -dict=tests/fuzz/manifest.dict tests/fuzz/corpus-work tests/fuzz/corpus examples
	@build-fuzz/tests/fuzz/riasc_request_fuzzer -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -dict=tests/fuzz/request.dict tests/fuzz/request-work tests/fuzz/request-corpus

# Benchmarks (bench/); figures go to docs/benchmarks.md.
bench: build
	@build/bench/riasc_validate_bench
	@build/bench/riasc_store_bench
	@build/bench/riasc_http_bench
	@build/bench/riasc_operator_bench
	@build/bench/riasc_netem_bench --control-path
	@build/bench/riasc_netem_bench --userspace
	@build/bench/riasc_up_bench
	@build/bench/riasc_engine_bench

# The network-emulation agent needs sch_netem: in the VM (docs/benchmarks.md).
bench-netem: build
	@bash tools/vm/build-image.sh
	@RIASC_VM_CPUS=2 bash tools/vm/run.sh build/bench/riasc_netem_bench build/riasc 200

# Regenerate the CRD reference pages from api/crds/ (a test fails when they are stale).
docs: build
	@build/riasc crds docs docs/crds

format:
	@clang-format-14 -i $(SOURCES)

format-check:
	@clang-format-14 --dry-run --Werror $(SOURCES)

clean:
	rm -rf build build-asan build-fuzz
