# Every Go build and test runs with the SIMD experiment: the Go backend's
# matrix multiply is several times faster with it.
export GOEXPERIMENT := simd
export GOFLAGS := -buildvcs=false

GO ?= go
PYTHON ?= /usr/bin/python3

.PHONY: test vet unit race test-compute data bench bench-go xla

## test: vet, all tests (race detector on the concurrent packages), the patched compute copy's own tests, every notebook executed
test: vet unit race test-compute notebooks

GOFMT_LIST := gofmt -l vqa data notebooks kernel
vet:
	@test -z "$$($(GOFMT_LIST))" || { echo "gofmt needed:"; $(GOFMT_LIST); exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 30m ./...

# Packages with goroutines are also run under the race detector.
RACE_PKGS ?= ./vqa/backend/... ./vqa/dataset/... ./vqa/download/... ./vqa/minidata/... ./vqa/corpus/... ./vqa/hub/... ./vqa/internal/...
race:
	$(GO) test -count=1 -race -timeout 20m $(RACE_PKGS)

## test-compute: the patched copy of github.com/gomlx/compute (vqa/internal/third_party/compute, a nested module
## that ./... leaves out): it is v0.1.2 plus exactly the diff in its PATCH.md, its own whole test suite passes, its
## worker pool passes the race detector with the deadlock reproducers repeated, and the workbook's end-to-end
## parallel-executor test passes
COMPUTE_DIR := vqa/internal/third_party/compute
# The race pass skips TestPool_Saturate: its "more than one task started" can lose a timing race under -race (in
# v0.1.2 too: the first task may finish before the second starts); it runs in the plain pass.
test-compute:
	scripts/compute-patch.sh -check
	cd $(COMPUTE_DIR) && $(GO) test -count=1 -timeout 20m ./...
	cd $(COMPUTE_DIR) && $(GO) test -count=3 -race -skip 'TestPool_Saturate$$' -timeout 10m ./internal/gobackend/workerspool/
	$(GO) test -count=1 -run 'TestGoParallelOpsNoDeadlock|TestGoConfigPatched' -v ./vqa/backend/

## data: regenerate the embedded mini VQAv2 dataset byte for byte
data:
	$(GO) run ./vqa/cmd/minidata -out data/vqav2-mini

## bench: every benchmark with its same-run baseline: data layer and evaluation, the processor against
## Pillow/numpy, ViLT-B/32 forward and training step against PyTorch (Go/PyTorch ratios), base training throughput,
## the whole training loop against the PyTorch + Pillow loop (examples/s)
bench: bench-deps bench-go bench-processor bench-vilt bench-train bench-loop

## bench-deps: the Python baselines' Debian packages (PyTorch, OpenBLAS, Pillow, numpy)
BENCH_APT := python3-torch python3-numpy python3-pil libopenblas0-pthread
.PHONY: bench-deps
bench-deps:
	@dpkg -s $(BENCH_APT) >/dev/null 2>&1 || { $(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(BENCH_APT); }

## bench-go: the Go-only benchmarks (data layer, evaluation, mini dataset generation)
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./vqa/vqav2/ ./vqa/vqaeval/ ./vqa/minidata/

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

## bench-vilt: ViLT-B/32 forward/training-step benchmarks, Go vs the PyTorch script, and the Go/PyTorch ratios
# Needs Debian python3-torch and libopenblas0-pthread (without OpenBLAS, Debian torch uses the reference BLAS, ~20x slower).
VILT_TORCH_BENCH_DIR ?= ../shared/bench
VILT_BENCH_OUT ?= $(or $(TMPDIR),/tmp)/vilt-bench
VILT_BENCH_TIME ?= 5x
VILT_TORCH_RUNS ?= 5
# Torch here defaults to 1 thread; the Go backend uses every core (GOMAXPROCS).
VILT_TORCH_THREADS ?= $(shell nproc)
# CPU fp32 peak in GFLOP/s for the "% of peak" column (0: skip). Here: 2 cores, AVX2 + 2 FMA units, 2.6 GHz.
VILT_PEAK_GFLOPS ?= 166
# Prints each side's peak resident memory (GNU time).
VILT_TIME ?= /usr/bin/time -f 'peak RSS %M KiB: %C'
.PHONY: bench-vilt
bench-vilt:
	@mkdir -p $(VILT_BENCH_OUT)
	$(GO) test -c -o $(VILT_BENCH_OUT)/vilt.test ./vqa/vilt/
	cd vqa/vilt && $(VILT_TIME) $(VILT_BENCH_OUT)/vilt.test -test.run '^$$' -test.bench 'ViLTB32' -test.benchtime=$(VILT_BENCH_TIME) -test.benchmem -test.timeout 60m | tee $(VILT_BENCH_OUT)/go.txt
	$(VILT_TIME) $(PYTHON) $(VILT_TORCH_BENCH_DIR)/torch_vilt_bench.py --runs $(VILT_TORCH_RUNS) --threads $(VILT_TORCH_THREADS) | tee $(VILT_BENCH_OUT)/torch.jsonl
	$(GO) run ./vqa/cmd/benchratio -go $(VILT_BENCH_OUT)/go.txt -torch $(VILT_BENCH_OUT)/torch.jsonl -peak $(VILT_PEAK_GFLOPS)

## bench-vilt-gpu: on a CUDA machine with Go, the ViLT parity tests and ViLT-B/32 benchmarks on XLA (VILT_GPU_BACKEND:
## xla:cuda for go-xla's own plugin, xla:/abs/path/xla_cuda_plugin.so for JAX's) beside eager PyTorch on the GPU, and the ratios
VILT_GPU_BACKEND ?= xla:cuda
# go-xla runs float32 matmuls on CUDA in TF32 unless told not to: the parity tolerances need full float32, and
# so does a fair comparison with PyTorch's float32 (its matmuls do not use TF32 by default).
VILT_GPU_FP32 := $(VILT_GPU_BACKEND),tf32=false
VILT_GPU_BENCH_TIME ?= 20x
.PHONY: bench-vilt-gpu
bench-vilt-gpu:
	@mkdir -p $(VILT_BENCH_OUT)
	GOMLX_BACKEND=$(VILT_GPU_FP32) $(GO) test -count=1 -run 'TestParity|TestExportRoundTrip' -v ./vqa/vilt/
	GOMLX_BACKEND=$(VILT_GPU_FP32) $(GO) test -run '^$$' -bench 'ViLTB32|DenseB32' -benchtime=$(VILT_GPU_BENCH_TIME) -benchmem -timeout 30m ./vqa/vilt/ | tee $(VILT_BENCH_OUT)/go-gpu.txt
	$(PYTHON) $(VILT_TORCH_BENCH_DIR)/torch_vilt_bench.py --device cuda --runs 20 | tee $(VILT_BENCH_OUT)/torch-gpu.jsonl
	$(GO) run ./vqa/cmd/benchratio -go $(VILT_BENCH_OUT)/go-gpu.txt -torch $(VILT_BENCH_OUT)/torch-gpu.jsonl

## gpu-kit: build gpu-kit/ (ignored) for a CUDA machine without Go: the ViLT test binary and the vqa command
## (linux/amd64, stripped, xz), the fixture files the parity tests read, the PyTorch benchmark script; run it there
## with scripts/gpu-check.sh (docs/real-data.md)
GPU_KIT ?= gpu-kit
VILT_FIXTURES ?= ../shared/fixtures/vilt
# What TestParity* and TestExportRoundTrip read from each case folder (config.json + inputs.safetensors).
PARITY_FIXTURE_FILES := config.json model.safetensors inputs.safetensors outputs.safetensors grads.safetensors adamw.safetensors
GPU_KIT_BUILD := GOOS=linux GOARCH=amd64 CGO_ENABLED=1
.PHONY: gpu-kit
gpu-kit:
	rm -rf $(GPU_KIT) && mkdir -p $(GPU_KIT)
	$(GPU_KIT_BUILD) $(GO) test -c -ldflags='-s -w' -o $(GPU_KIT)/vilt.test ./vqa/vilt/
	$(GPU_KIT_BUILD) $(GO) build -ldflags='-s -w' -o $(GPU_KIT)/vqa ./vqa/cmd/vqa
	xz -6 -T0 $(GPU_KIT)/vilt.test $(GPU_KIT)/vqa
	cd $(VILT_FIXTURES) && files=$$(for c in */; do c=$${c%/}; \
		if [ -f $$c/config.json ] && [ -f $$c/inputs.safetensors ]; then \
			for f in $(PARITY_FIXTURE_FILES); do [ ! -f $$c/$$f ] || echo $$c/$$f; done; fi; done) && \
		test -n "$$files" && tar -cf - $$files | xz -6 -T0 >$(CURDIR)/$(GPU_KIT)/fixtures.tar.xz
	cp $(VILT_TORCH_BENCH_DIR)/torch_vilt_bench.py $(GPU_KIT)/
	{ echo "commit $$(git rev-parse HEAD)$$(git diff --quiet HEAD || echo ' (with uncommitted changes)')"; \
	  $(GO) version; $(GO) list -m github.com/gomlx/go-xla; \
	  echo "go-xla PJRT C API $$(awk '/^#define PJRT_API_MAJOR/{M=$$3} /^#define PJRT_API_MINOR/{m=$$3} END{print M "." m}' \
		$$($(GO) list -m -f '{{.Dir}}' github.com/gomlx/go-xla)/pjrt/pjrt_c_api.h)"; \
	  tar -tJf $(GPU_KIT)/fixtures.tar.xz; } >$(GPU_KIT)/MANIFEST.txt
	cat $(GPU_KIT)/MANIFEST.txt
	@ls -l $(GPU_KIT)
	@kit=$$(du -sb $(GPU_KIT) | cut -f1); tree=$$(git ls-files -coz --exclude-standard | du -cb --files0-from=- | tail -n 1 | cut -f1); \
		awk -v k=$$kit -v t=$$tree 'BEGIN { printf "$(GPU_KIT): %.1f MiB; with the working tree: %.1f MiB (the device tool takes 64)\n", k / 2^20, (k + t) / 2^20 }'; \
		test $$((kit + tree)) -le $$((64 << 20))

## notebooks: execute every notebook headless in a scratch folder (quick training, HF cache only) and check key outputs
.PHONY: notebooks tutorial
notebooks: kernel
	VQA_NOTEBOOKS=1 VQA_QUICK=1 HF_HUB_OFFLINE=1 $(GO) test -count=1 -v -timeout 60m -run 'TestSaved|TestNotebooks' ./notebooks/

## tutorial: set up the kernel and run the whole workbook in place on the embedded data (outputs saved in the notebooks)
tutorial: kernel
	VQA_NOTEBOOKS=inplace $(GO) test -count=1 -v -timeout 120m -run 'TestNotebooks' ./notebooks/

## fuzz-weights: fuzz the safetensors reader, the restricted unpickler and the torch ZIP reader (FUZZTIME each)
FUZZTIME ?= 60s
.PHONY: fuzz-weights
fuzz-weights:
	$(GO) test ./vqa/hfweights/ -run '^$$' -fuzz '^FuzzReadSafetensors$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./vqa/hfweights/torchbin/ -run '^$$' -fuzz '^FuzzUnpickle$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./vqa/hfweights/torchbin/ -run '^$$' -fuzz '^FuzzReadZip$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

## fuzz-data: fuzz the COCO file-name parser, the VQAv2 and COCO captions JSON readers and the answer normalization (FUZZTIME each)
.PHONY: fuzz-data
fuzz-data:
	$(GO) test ./vqa/vqav2/ -run '^$$' -fuzz '^FuzzImageID$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./vqa/vqav2/ -run '^$$' -fuzz '^FuzzReadQuestions$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./vqa/vqav2/ -run '^$$' -fuzz '^FuzzReadAnnotations$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./vqa/vqav2/ -run '^$$' -fuzz '^FuzzReadCaptions$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./vqa/vqaeval/ -run '^$$' -fuzz '^FuzzNormalize$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

## fuzz-processor: fuzz image decode + processing and the tokenizer (FUZZTIME each)
.PHONY: fuzz-processor
fuzz-processor:
	$(GO) test ./vqa/imageproc/ -run '^$$' -fuzz '^FuzzProcessImage$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./vqa/tokenizer/ -run '^$$' -fuzz '^FuzzTokenize$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

## bench-processor: decode + process a 640x480 JPEG, Go (1 and 2 cores) between two runs of the Pillow/numpy baseline
PROC_BENCH_IMAGE ?= ../shared/fixtures/processor/images/photo_640x480.jpg
.PHONY: bench-processor
bench-processor:
	$(PYTHON) vqa/processor/testdata/bench_pil.py $(PROC_BENCH_IMAGE) 60
	$(GO) test -run '^$$' -bench 'EncodeJPEG|Stages' -cpu 1,2 ./vqa/processor/
	$(PYTHON) vqa/processor/testdata/bench_pil.py $(PROC_BENCH_IMAGE) 60

## fuzz-pipeline: fuzz the download checksum-file and Content-Range parsers (FUZZTIME each)
.PHONY: fuzz-pipeline
fuzz-pipeline:
	$(GO) test ./vqa/download/ -run '^$$' -fuzz '^FuzzReadChecksums$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./vqa/download/ -run '^$$' -fuzz '^FuzzParseContentRange$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

## bench-train: one training step of the base preset (batch 4, 384x576) after PyTorch's, same run, in examples/s
.PHONY: bench-train
bench-train:
	$(GO) test -run '^$$' -bench 'TrainStepBase' -benchtime 1x -timeout 60m ./vqa/train/

## bench-loop: the walk-through's training loop end to end, `vqa train` beside ../shared/bench/torch_vilt_train_loop.py
## (plain PyTorch + Pillow) on data/vqav2-mini with the same settings, for the base preset (batch 4, 384 px) and the
## tiny recipe (patch 16, 96 px, batch 16): examples/s of both and the Go/PyTorch ratio
LOOP_BENCH_OUT ?= $(or $(TMPDIR),/tmp)/vilt-bench-loop
LOOP_BASE_STEPS ?= 4
LOOP_TINY_STEPS ?= 30
.PHONY: bench-loop
bench-loop:
	@mkdir -p $(LOOP_BENCH_OUT)
	$(GO) build -o $(LOOP_BENCH_OUT)/vqa ./vqa/cmd/vqa
	$(GO) run ./vqa/cmd/benchloop -vqa $(LOOP_BENCH_OUT)/vqa -python $(PYTHON) -script $(VILT_TORCH_BENCH_DIR)/torch_vilt_train_loop.py \
		-threads $(VILT_TORCH_THREADS) -base-steps $(LOOP_BASE_STEPS) -tiny-steps $(LOOP_TINY_STEPS) -out $(LOOP_BENCH_OUT)

## tiny-models: the two shipped tiny checkpoints (docs/tiny-model.md), in real ViLT's order: a corpus of 8000
## synthetic scenes at 128 px (user cache); a classification stage on its "What is in the picture?" questions (the
## stand-in for ViT's ImageNet training); masked-LM + image-text matching pre-training from it on the captions ->
## data/vilt-tiny-mlm; fine-tuning from that on all the questions (2 epochs with a new head, then four more, one
## at a time, each with a fresh warm-up) -> data/vilt-tiny-finetuned-vqa; each scored on data/vqav2-mini's val2014
TINY_RUN ?= $(or $(TMPDIR),/tmp)/vilt-tiny-run
TINY_CORPUS_FLAGS ?= -scenes 8000 -short-side 128 -inventory
TINY_RUN_FLAGS ?= -image-size 128 -trim-text -cache-images -bucket -batch 32 -decay -checkpoint-every 500 -log-every 100 -quiet
TINY_STAGE_FLAGS ?= $(TINY_RUN_FLAGS) -preset tiny -patch 16 -layers 4 -mlp 384 -init-range 0.2 -lr 1e-3 -warmup 0.1 -epochs 12 -only-question-types "what is in the"
TINY_PRETRAIN_FLAGS ?= $(TINY_RUN_FLAGS) -lr 2e-4 -head-lr-mult 10 -warmup 0.05 -epochs 2
TINY_EVAL_FLAGS ?= -eval val2014 -eval-data data/vqav2-mini -eval-every 500
TINY_FINETUNE_FLAGS ?= $(TINY_RUN_FLAGS) $(TINY_EVAL_FLAGS) -lr 2e-4 -head-lr-mult 10 -warmup 0.05 -epochs 2
TINY_CONTINUE_FLAGS ?= $(TINY_RUN_FLAGS) $(TINY_EVAL_FLAGS) -keep-labels -lr 2e-4 -warmup 0.05 -epochs 1
.PHONY: tiny-models
tiny-models:
	rm -rf $(TINY_RUN) && mkdir -p $(TINY_RUN)
	$(GO) build -o $(TINY_RUN)/vqa ./vqa/cmd/vqa
	$(GO) run ./vqa/cmd/minidata corpus $(TINY_CORPUS_FLAGS) > $(TINY_RUN)/corpus.txt
	$(TINY_RUN)/vqa train -data "$$(tail -1 $(TINY_RUN)/corpus.txt)" $(TINY_STAGE_FLAGS) -out $(TINY_RUN)/stage
	$(TINY_RUN)/vqa pretrain -data "$$(tail -1 $(TINY_RUN)/corpus.txt)" -model $(TINY_RUN)/stage $(TINY_PRETRAIN_FLAGS) -out $(TINY_RUN)/pretrain
	$(TINY_RUN)/vqa eval -model $(TINY_RUN)/pretrain -data data/vqav2-mini -split val2014
	$(TINY_RUN)/vqa export -model $(TINY_RUN)/pretrain -out data/vilt-tiny-mlm -dtype float16 -force
	$(TINY_RUN)/vqa train -data "$$(tail -1 $(TINY_RUN)/corpus.txt)" -model $(TINY_RUN)/pretrain $(TINY_FINETUNE_FLAGS) -out $(TINY_RUN)/finetune2
	for e in 3 4 5 6; do \
		$(TINY_RUN)/vqa train -data "$$(tail -1 $(TINY_RUN)/corpus.txt)" -model $(TINY_RUN)/finetune$$((e - 1)) $(TINY_CONTINUE_FLAGS) -out $(TINY_RUN)/finetune$$e || exit 1; \
	done
	$(TINY_RUN)/vqa export -model $(TINY_RUN)/finetune6 -out data/vilt-tiny-finetuned-vqa -dtype float16 -force
