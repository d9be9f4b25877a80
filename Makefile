# Jizhan: `make run` and `make test` are the whole quick start on Debian 12.
# Both install what is missing (scripts/install-deps), then build.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
SOURCES = $(shell git ls-files '*.cc' '*.h' 2>/dev/null)

.PHONY: all deps build test run bench fmt lint fuzz asan clean help

all: build

help:
	@echo "make run     install, build, start the server (LISTEN=127.0.0.1:8080 DATA_DIR=./jizhan-data)"
	@echo "make test    install, build, run every test"
	@echo "make build   build the $(PRESET) preset (PRESET=debug|asan|release)"
	@echo "make bench   HTTP vs nginx, route paths vs jq, COCO eval vs parse, isolated host vs in-process, jobs, log filter vs grep, WebSocket echo and the dev-environment proxy vs a bare echo, a 2 GiB resumable upload vs cp, the node agent vs node_exporter, alert routing vs Alertmanager and rules vs Prometheus, the vGPU library vs direct driver calls, the openb trace vs the FGD paper, perceptual hashing vs OpenCV's img_hash, the console in Chromium (writes bench/out/)"
	@echo "make fuzz    build the libFuzzer targets with clang and run each briefly"
	@echo "make fmt     clang-format every source file"
	@echo "make lint    clang-tidy over the sources of every layered folder (not tests; ~15 min)"

deps:
	@scripts/install-deps

build: deps
	@cmake --preset $(PRESET) -DJZ_WERROR=$(if $(WERROR),ON,OFF) >/dev/null
	@cmake --build --preset $(PRESET)

test: build
	@ctest --test-dir $(BUILD_DIR) -j2 --output-on-failure

run: build
	@scripts/run

asan:
	@scripts/install-deps --fuzz
	@$(MAKE) --no-print-directory test PRESET=asan

bench:
	@scripts/install-deps --bench
	@$(MAKE) --no-print-directory build PRESET=release
	@bench/http/run
	@bench/cli/run
	@bench/eval/run
	@bench/sdk/run
	@bench/jobs/run
	@bench/logs/run
	@bench/upload/run
	@bench/ws/run
	@bench/monitor/run
	@bench/alerts/run
	@bench/training/run
	@bench/vgpu/run
	@bench/sched/trace
	@bench/data/run
	@bench/web/run

fuzz:
	@scripts/install-deps --fuzz
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz
	@fuzz/run build/fuzz $${FUZZ_SECONDS:-30}

fmt:
	@scripts/install-deps --dev
	@clang-format -i $(SOURCES)

lint: build
	@scripts/install-deps --dev
	@scripts/lint

clean:
	rm -rf build
