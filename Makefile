# Every Go build and test runs with the SIMD experiment: the Go backend's
# matrix multiply is several times faster with it.
export GOEXPERIMENT := simd
export GOFLAGS := -buildvcs=false

GO ?= go
PYTHON ?= /usr/bin/python3

.PHONY: test vet unit race data bench fuzz xla

## test: vet, all tests (race detector on the concurrent packages)
test: vet unit race

vet:
	@test -z "$$(gofmt -l vqa data)" || { echo "gofmt needed:"; gofmt -l vqa data; exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 30m ./...

# Packages with goroutines are also run under the race detector.
RACE_PKGS ?= ./vqa/backend/... ./vqa/dataset/... ./vqa/download/... ./vqa/minidata/... ./vqa/hub/...
race:
	$(GO) test -count=1 -race -timeout 20m $(RACE_PKGS)

## data: regenerate the embedded mini VQAv2 dataset byte for byte
data:
	$(GO) run ./vqa/cmd/minidata -out data/vqav2-mini

## bench: Go benchmarks (and ratios against baselines measured in the same run)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./vqa/...

## xla: explicitly download and install the PJRT plugins for this machine
xla:
	VQA_XLA_INSTALL=1 $(GO) run ./vqa/cmd/vqa backend

## kernel: install Jupyter (Debian packages), GoNB and goimports (pinned in kernel/go.mod) and register the GoNB kernel
KERNEL_APT := jupyter-nbconvert python3-nbconvert jupyter-client python3-ipykernel jupyter-notebook
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: kernel
kernel:
	@dpkg -s $(KERNEL_APT) >/dev/null 2>&1 || { $(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(KERNEL_APT); }
	cd kernel && $(GO) vet . && $(GO) install tool && $(GO) run .

## fuzz-weights: fuzz the safetensors reader, the restricted unpickler and the torch ZIP reader (FUZZTIME each)
FUZZTIME ?= 60s
.PHONY: fuzz-weights
fuzz-weights:
	$(GO) test ./vqa/hfweights/ -run '^$$' -fuzz '^FuzzReadSafetensors$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./vqa/hfweights/torchbin/ -run '^$$' -fuzz '^FuzzUnpickle$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./vqa/hfweights/torchbin/ -run '^$$' -fuzz '^FuzzReadZip$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
