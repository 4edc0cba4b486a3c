# eqspice build.  `make` builds build/eqspice and build/libeqspice.a.
# `make demo` and `make check` first install missing Debian packages.
#
# Targets: deps-mpi all demo check check-asan bench bench-compare golden-update regress regress-update docs-plots check-browser check-ngspice-vectors study deps clean

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
SAN     ?=
# Strict warnings everywhere (CONVENTIONS 14).
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
# Third-party include dirs (each library is used by exactly one .c file).
PKG_CFLAGS := $(shell pkg-config --cflags libxml-2.0 check cairo 2>/dev/null) \
              -I/usr/include/suitesparse -I/usr/include/ngspice
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SAN) -D_POSIX_C_SOURCE=200809L -Isrc $(PKG_CFLAGS) -MMD -MP
# OpenMPI is optional (docs/cluster.md): found by pkg-config, or MPI=0 to
# build without it.  Only src/core/par.c includes <mpi.h>.
MPI     ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c) -DEQS_HAVE_MPI
MPI_LIBS   := $(shell pkg-config --libs ompi-c)
endif
LIBS    := $(MPI_LIBS) -lsundials_cvode -lsundials_nvecserial -lcholmod -lklu -lamd -lcolamd -lbtf -lsuitesparseconfig \
           $(shell pkg-config --libs libxml-2.0 zlib openblas cairo nettle 2>/dev/null) -ldl -lm -lpthread
TEST_LIBS := $(shell pkg-config --libs check 2>/dev/null)

LIB_SRC  := $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

LIB      := $(BUILD)/libeqspice.a
CLI      := $(BUILD)/eqspice
TESTBIN  := $(BUILD)/tests/run-tests

.PHONY: deps-mpi all demo check check-asan bench bench-compare golden-update regress regress-update docs-plots check-browser check-ngspice-vectors study deps clean
all: $(LIB) $(CLI)

deps:
	@bash scripts/install-deps.sh

# The optional OpenMPI (docs/cluster.md): mpirun eqspice train|sweep.
deps-mpi:
	@EQS_WITH_MPI=1 bash scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The update law's row kernels (update_rows.inc) vectorize: element-wise
# arithmetic only (ISO C: no contraction, no reassociation), so the bits do
# not change (make regress checks it).
$(BUILD)/src/update/update.o: ALL_CFLAGS += -ftree-vectorize
$(BUILD)/src/core/par.o: ALL_CFLAGS += $(MPI_CFLAGS)
# par.o is rebuilt when MPI appears or goes (a stamp per setting).
MPI_STAMP := $(BUILD)/.mpi-$(MPI)
$(MPI_STAMP):
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/.mpi-*
	@touch $@
$(BUILD)/src/core/par.o: $(MPI_STAMP)

# The experiment schema is compiled into the library; models/experiment.xsd
# is the single source (a test also checks that the two agree).
src/experiment/experiment_xsd.inc: models/experiment.xsd scripts/embed-xsd.sh
	sh scripts/embed-xsd.sh $< $@
$(BUILD)/src/experiment/experiment.o: src/experiment/experiment_xsd.inc
# The device-model schema likewise (models/device.xsd).
src/experiment/device_xsd.inc: models/device.xsd scripts/embed-xsd.sh
	sh scripts/embed-xsd.sh $< $@ device_xsd
$(BUILD)/src/experiment/device_xml.o: src/experiment/device_xsd.inc
# The hand-off manifest schema likewise (models/manifest.xsd).
src/experiment/manifest_xsd.inc: models/manifest.xsd scripts/embed-xsd.sh
	sh scripts/embed-xsd.sh $< $@ manifest_xsd
$(BUILD)/src/experiment/manifest.o: src/experiment/manifest_xsd.inc

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(CLI): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(SAN) -o $@ $(CLI_OBJ) $(LIB) $(LIBS)

$(TESTBIN): $(TEST_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $(TEST_OBJ) $(LIB) $(TEST_LIBS) $(LIBS)

# The demo: train a small DRN (Fashion-MNIST subset, or the built-in XOR task)
# by EqProp and print its test accuracy (scripts/demo.sh, under two minutes).
demo: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh $(CLI)

# All tests (Check).  Fork mode keeps ngspice's process-wide state per test.
check: deps
	@$(MAKE) --no-print-directory all $(TESTBIN)
	CK_FORK=yes EQS_CLI=$(CLI) $(TESTBIN)
	bash scripts/regress.sh check $(CLI)

# Refactors keep the bits: seven short training runs compared byte for byte
# with tests/regress/expected/ (also the last step of make check).
regress: deps
	@$(MAKE) --no-print-directory all
	bash scripts/regress.sh check $(CLI)

# Record the reference outputs: only at a commit whose behaviour is the
# reference, saying in the commit why they change.
regress-update: deps
	@$(MAKE) --no-print-directory all
	bash scripts/regress.sh record $(CLI)

# Same suite under AddressSanitizer + UBSan (separate build dir).
check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  build-asan/eqspice build-asan/tests/run-tests
	CK_FORK=yes EQS_CLI=build-asan/eqspice \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build-asan/tests/run-tests

# Benchmarks (not part of check): writes bench/results/*.md.
bench: deps
	@$(MAKE) --no-print-directory all
	bash bench/run.sh $(CLI)

# Same-run speed against an older commit (REF, built in bench/tmp/ref-<sha>/):
# alternating runs of both binaries, ratios appended to bench/results/redesign.md.
REF ?= b7386e0
bench-compare: deps
	@$(MAKE) --no-print-directory all
	bash bench/compare.sh $(REF) $(CLI)

# Regenerate tests/golden/ with real ngspice (the only way golden files change).
golden-update: deps
	@$(MAKE) --no-print-directory all
	bash scripts/golden-update.sh $(CLI)

# The pulse response of every preset in models/ as docs/img/device-<preset>.png
# (docs/devices.md shows them; `eqspice device --plot`, pulses: sweep).
docs-plots: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p docs/img
	@for m in models/*.xml; do \
	  n=$$(basename "$$m" .xml); \
	  $(CLI) device "$$m" --pulses sweep --plot "docs/img/device-$$n.png" > /dev/null || exit 1; \
	  echo "docs-plots: docs/img/device-$$n.png"; \
	done

# Opt-in: the report in headless Chromium (installs Debian's chromium).
check-browser: deps
	@$(MAKE) --no-print-directory all
	bash scripts/check-browser.sh $(CLI)

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

# Opt-in (issue 16): a trained 784-100-10 Fashion-MNIST network (needs
# dataset-fashion-mnist; one epoch of netlists/fmnist-784-100-10-study.xml with
# Shockley diodes) exported with VECTORS test vectors, its top.cir run in stock
# ngspice for each (one DC sweep per core over B-source tables of the
# vectors) and compared with eqspice's predictions.  RUN=DIR uses a finished
# run instead.
VECTORS ?= 1000
check-ngspice-vectors: deps
	@$(MAKE) --no-print-directory all
	bash scripts/ngspice-vectors-run.sh $(CLI) $(VECTORS) $(RUN)

# Opt-in (issue 15): the non-ideality study of docs/nonidealities.md (needs
# dataset-fashion-mnist; about an hour on 2 cores); STUDY_OUT, STUDY_AXES.
STUDY_OUT ?= build/study
study: deps
	@$(MAKE) --no-print-directory all
	bash scripts/nonideality-study.sh $(STUDY_OUT) $(STUDY_AXES)
