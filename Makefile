# Lifeline gateway: one entry point.
#   make            build everything into build/ (build-san/ with SAN=1)
#   make test       the fast suite: build, unit tests, integration tests (no VM, fuzz,
#                   e2e or ARM builds; a few minutes)
#   make check      unit tests (cmocka), integration and end-to-end tests (pytest, real
#                   broker), the GPIO VM tests; then each fuzz target for 20 s and the
#                   arm64 and armhf builds' tests under qemu-user, the amd64 and arm64
#                   packages through lintian (these three not with SAN=1)
#   make cross ARCH=arm64|armhf, make check-cross ARCH=...   the ARM builds
#   make demo       local broker + simulated field devices + lifelined, alarms shown live
#   make deps       install the Debian packages the build, demo and tests need
#   make install    install binaries and example config under DESTDIR/PREFIX
PREFIX   ?= /usr/local
DESTDIR  ?=
SAN      ?= 0
PYTHON   ?= /usr/bin/python3

# Cross builds (make cross ARCH=arm64|armhf): Debian's cross gcc against a
# sysroot made from Debian's packages for ARCH (firmware/sysroot.sh), into
# build-ARCH/; tests run under qemu-user (RUN).
ARCH       ?=
PKG_CONFIG := pkg-config
RUN        :=
ifneq ($(ARCH),)
ifeq ($(ARCH),arm64)
TRIPLET    := aarch64-linux-gnu
QEMU       := qemu-aarch64
else ifeq ($(ARCH),armhf)
TRIPLET    := arm-linux-gnueabihf
QEMU       := qemu-arm
else
$(error ARCH must be arm64 or armhf (or unset, for this machine))
endif
SYSROOT    := $(CURDIR)/build/sysroot-$(ARCH)
CC         := $(TRIPLET)-gcc --sysroot=$(SYSROOT)
PKG_CONFIG := PKG_CONFIG_SYSROOT_DIR=$(SYSROOT) \
              PKG_CONFIG_LIBDIR=$(SYSROOT)/usr/lib/$(TRIPLET)/pkgconfig:$(SYSROOT)/usr/share/pkgconfig pkg-config
RUN        := QEMU_LD_PREFIX=$(SYSROOT) $(QEMU)
endif

# FORTIFY_SOURCE in every build but the sanitizer ones: there its
# __*_chk functions would stand in for the calls ASan intercepts, so ASan
# would no longer see (and name) an overflow in snprintf, memcpy, ...
FORTIFY  := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
ifneq ($(ARCH),)
B        := build-$(ARCH)
OPT      := -O2
LDSAN    :=
else ifeq ($(FUZZ),1)
# libFuzzer targets (tests/fuzz/): clang, the core built with coverage and
# ASan+UBSan for any SAN
B        := build-fuzz
CC       := clang
OPT      := -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDSAN    := -fsanitize=address,undefined
FORTIFY  :=
else ifeq ($(SAN),1)
B        := build-san
OPT      := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDSAN    := -fsanitize=address,undefined
FORTIFY  :=
else
B        := build
OPT      := -O2
LDSAN    :=
endif

CC       ?= cc
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wundef -Wvla -Wnull-dereference
CFLAGS   ?=
CPPFLAGS ?=
# Hardening, in every build (native, SAN, cross, the package): a canary on
# every function with an array, FORTIFY's checked string and memory calls
# (above), position-independent executables (ASLR), and the GOT read-only
# after start-up (full RELRO: relro + bind now). tests/integration/
# test_hardening.py checks the binaries. The package adds Debian's own
# (dpkg-buildflags, the deb target) in CFLAGS, CPPFLAGS and LDFLAGS.
HARDEN_CFLAGS  := -fstack-protector-strong -fPIE $(FORTIFY)
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now
# -ffp-contract=off: no fused multiply-add, so a register decodes to the same
# double on every architecture (gcc fuses raw * scale + offset on arm64 by
# default: 4000 * 0.001 - 4 was 8.3e-17 there and 0 here)
CFLAGS   += $(CPPFLAGS) -std=gnu11 $(OPT) -g $(WARN) -ffp-contract=off -D_GNU_SOURCE $(HARDEN_CFLAGS)
LDFLAGS  += $(LDSAN) $(HARDEN_LDFLAGS)

PKGS     := libmodbus libmosquitto sqlite3 libgpiod libcjson inih
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lcrypt
CFLAGS   += $(PKG_CFLAGS)

# Debian packages: build, demo and tests.
DEPS := build-essential pkg-config libmodbus-dev libmosquitto-dev libsqlite3-dev libgpiod-dev \
        libcjson-dev libinih-dev libedit-dev libcmocka-dev libpaho-mqtt-dev sqlite3 \
        mosquitto mosquitto-clients python3-pytest python3-pymodbus python3-paho-mqtt \
        python3-serial-asyncio python3-pexpect socat qemu-system-x86 cpio xz-utils \
        clang libclang-rt-14-dev clang-format-14 systemd rauc squashfs-tools

VERSION  := $(shell cat VERSION)
CFLAGS   += -DLIFELINE_VERSION='"$(VERSION)"'
CFLAGS   += -DLIFELINE_PROFILES_DIR='"$(PREFIX)/share/lifeline/profiles"'

# --- include paths: dependencies run one way -------------------------------
# lib/ (log, loop, strbuf, num) sees only itself; drivers/ sees lib/; gateway/
# sees both. So a driver that includes a gateway header does not compile.
# center/ sees lib/ and its own headers (found beside the source); tests, fuzz targets
# and benchmarks see everything. tests/layout/check_layout.py checks the rest.
INC_lib     := -Ilib
INC_drivers := -Ilib -Idrivers
INC_gateway := -Ilib -Idrivers -Igateway
INC_center  := -Ilib
INC_tests   := $(INC_gateway)
INC_bench   := $(INC_gateway)
# the include path of a source file, by its top-level folder
inc_for = $(INC_$(firstword $(subst /, ,$(1))))

# --- sources -------------------------------------------------------------
CORE_SRC := lib/num.c lib/text.c lib/log.c lib/loop.c lib/strbuf.c \
            gateway/config.c gateway/config_read.c gateway/config_sections.c gateway/config_files.c \
            gateway/config_field.c gateway/config_check.c gateway/config_keys.c \
            gateway/classes.c gateway/rules.c gateway/store.c gateway/payload.c gateway/telemetry.c \
            gateway/conffile.c gateway/commands.c gateway/confchange.c gateway/ctl.c gateway/ctl_cmds.c \
            gateway/ctl_show.c gateway/ctl_bus.c gateway/ctl_change.c gateway/ctl_config.c \
            gateway/alarms.c gateway/core.c gateway/restore.c gateway/reload.c \
            gateway/uplink.c gateway/actions.c gateway/health.c gateway/gateway.c \
            gateway/store_schema.c gateway/store_readings.c gateway/store_alarms.c gateway/store_outbox.c gateway/store_state.c \
            drivers/bus.c drivers/field.c drivers/gpio.c drivers/plan.c drivers/sample.c drivers/decode.c drivers/modbus.c drivers/sim.c
CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o) $(B)/gen/classes_ini.o
LIBCORE  := $(B)/liblifeline.a

BINS := $(B)/lifelined $(B)/lifelinectl $(B)/lifeline-sim $(B)/lifeline-center

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

.PHONY: all test check layout format format-check unit integration e2e check-vm demo deps install clean
all: $(BINS) $(UNIT_BIN)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call inc_for,$<) -MMD -MP -c $< -o $@

# config/classes.ini is compiled in: a gateway always has its class defaults.
$(B)/gen/classes_ini.c: config/classes.ini
	@mkdir -p $(dir $@)
	{ echo '/* generated from config/classes.ini by the Makefile */'; \
	  echo 'extern const char config_classes_ini[];'; echo 'const char config_classes_ini[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; echo ';'; } > $@

$(B)/gen/classes_ini.o: $(B)/gen/classes_ini.c
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBCORE): $(CORE_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/lifelined: $(B)/gateway/main.o $(LIBCORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread -lm

$(B)/lifelinectl: $(B)/gateway/lifelinectl.o
	$(CC) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libedit libcjson)

$(B)/lifeline-sim: $(B)/tests/sim/lifeline-sim.o
	$(CC) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libmodbus) -lm

CENTER_SRC := center/main.c center/common.c center/conn.c center/watch.c center/serve.c center/db.c center/db_guard.c center/db_print.c center/limit.c \
              center/query.c center/send.c
$(B)/lifeline-center: $(CENTER_SRC:%.c=$(B)/%.o) $(B)/lib/num.o
	$(CC) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs libcjson sqlite3) -lpaho-mqtt3as -lpthread -lm

, := ,
# A unit test's own link flags: LDFLAGS_test_NAME (-Wl,--wrap=... to stand
# in for a library at its edge, for that test binary only)
LDFLAGS_test_uplink := $(addprefix -Wl$(,)--wrap=,mosquitto_connect_async mosquitto_socket \
    mosquitto_publish mosquitto_want_write mosquitto_subscribe mosquitto_connect_callback_set \
    mosquitto_disconnect_callback_set mosquitto_publish_callback_set)

$(B)/tests/%: tests/unit/%.c $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_tests) -Itests/unit $(LDFLAGS) $(LDFLAGS_$*) -o $@ $< $(LIBCORE) $(PKG_LIBS) \
	    $(shell $(PKG_CONFIG) --libs cmocka) -lpthread -lm

-include $(shell find $(addprefix $(B)/,lib gateway drivers center tests bench) -name '*.d' -type f 2>/dev/null)

# --- tests ---------------------------------------------------------------
# The fast suite, for every change: what runs on this machine alone in a few
# minutes (layout and format, build, unit, integration). make check adds e2e,
# the GPIO VM, fuzzing, the ARM builds and the packages, and installs the deps.
test:
	$(MAKE) --no-print-directory layout format-check
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory integration

check: deps
	$(MAKE) --no-print-directory layout format-check
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory unit integration e2e check-vm
ifneq ($(SAN),1)
	@# (already under ASan+UBSan, and the ARM builds are not sanitizer builds:
	@# both once, in the plain check)
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS) FUZZ_SEED=1
	$(MAKE) --no-print-directory check-cross ARCH=arm64
	$(MAKE) --no-print-directory check-cross ARCH=armhf
	$(MAKE) --no-print-directory deb
	$(MAKE) --no-print-directory deb ARCH=arm64
endif

# The layout rules the compiler cannot see: no include cycles, no gateway/
# header in drivers/ or lib/, no C file over 800 lines (tests/layout/).
layout:
	$(PYTHON) tests/layout/check_layout.py

# The C sources in the house style (.clang-format): make format rewrites
# them, make check fails on one it would change (clang-format 14, Debian's).
CLANG_FORMAT := clang-format-14
FORMAT_SRC = $(shell find lib drivers gateway center tests bench -name '*.[ch]' -type f | sort)
format:
	$(CLANG_FORMAT) -i $(FORMAT_SRC)

format-check:
	@$(CLANG_FORMAT) --dry-run -Werror $(FORMAT_SRC) || \
	  { echo "format-check: the files above are not formatted: make format"; exit 1; }

unit: $(UNIT_BIN)
	@set -e; cd tests/unit; for t in $(UNIT_BIN:%=../../%); do echo "== $$t"; $$t; done

integration: $(BINS)
	LIFELINE_BUILD=$(CURDIR)/$(B) $(PYTHON) -m pytest -q tests/integration

# The end-to-end fault suite: three gateways, a broker and lifeline-center
# serve under broker restarts, freezes, kill -9, slaves lost, a network cut.
e2e: $(BINS)
	LIFELINE_BUILD=$(CURDIR)/$(B) $(PYTHON) -m pytest -q -rs tests/e2e

# The GPIO tests against a real kernel GPIO chip: Debian's kernel with a
# gpio-sim module built here, booted in qemu (tests/vm/). When this machine
# cannot build or boot it, says so loudly and why, and does not fail.
# the kernel, module and base are the same for SAN=1: built once
VMDIR := build/vm

check-vm: $(B)/lifelined $(B)/lifelinectl
	@rc=0; tests/vm/build.sh $(VMDIR) || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "check-vm: ****** THE GPIO VM TESTS DID NOT RUN (reason above) ******"; exit 0; fi; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	for t in smoke gpio_inputs gpio_outputs gpio_gone gpio_counter gpio_board; do \
	  echo "== vm: $$t"; \
	  LIFELINE_BUILD=$(CURDIR)/$(B) tests/vm/run.sh $(VMDIR) $$t.sh tests/vm/$$t.sh board/qemu-x86_64/board.conf || \
	    { tail -n 40 $(VMDIR)/vm.log; exit 1; }; \
	done

# Fuzzing: each target of tests/fuzz/ for FUZZ_SECONDS, from its committed
# seeds (tests/fuzz/corpus/T/, copied, never written) and what earlier runs
# found (build-fuzz/corpus/T/). A crash, a leak or a hang fails, and leaves its
# input in build-fuzz/ (tests/fuzz/README.md).
FUZZ_TARGETS := config cmd ctl decode
FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 20
# 0: a new random seed each run (make fuzz); make check uses 1, so that its
# 20 s go the same way on every run and a red CI is a regression, not luck
FUZZ_SEED ?= 0

.PHONY: fuzz fuzz-build
fuzz: deps
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz: $$t, $(FUZZ_SECONDS) s"; mkdir -p build-fuzz/corpus/$$t build-fuzz/tmp; \
	  cp -n tests/fuzz/corpus/$$t/* build-fuzz/corpus/$$t/; \
	  dict=; [ ! -f tests/fuzz/$$t.dict ] || dict=-dict=tests/fuzz/$$t.dict; \
	  TMPDIR=$(CURDIR)/build-fuzz/tmp build-fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=4096 -print_final_stats=1 -artifact_prefix=build-fuzz/$$t- $$dict \
	    build-fuzz/corpus/$$t 2>build-fuzz/$$t.log || \
	    { rm -rf build-fuzz/tmp; tail -n 60 build-fuzz/$$t.log; echo "fuzz: $$t FAILED: the input is in build-fuzz/$$t-*"; exit 1; }; \
	  rm -rf build-fuzz/tmp; \
	  grep -E '^stat::(number_of_executed_units|new_units_added)|^Done' build-fuzz/$$t.log | tr '\n' ' '; echo; \
	done

fuzz-build: $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_gw.h $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_tests) -Itests/fuzz -fsanitize=fuzzer -o $@ $< $(LIBCORE) $(PKG_LIBS) -lpthread -lm

# --- ARM: cross builds, and their tests under qemu-user --------------------
CROSS_DEPS := gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user
CROSS_BINS := lifelined lifelinectl lifeline-center
.PHONY: cross cross-build check-cross cross-test deps-cross

deps-cross: deps
	@$(MAKE) --no-print-directory deps DEPS="$(CROSS_DEPS)"

cross: deps-cross
	@[ -n "$(ARCH)" ] || { echo "usage: make cross ARCH=arm64 (or armhf)"; exit 2; }
	firmware/sysroot.sh $(ARCH) build/sysroot-$(ARCH)
	@$(MAKE) --no-print-directory ARCH=$(ARCH) cross-build

cross-build: $(BINS) $(UNIT_BIN)
	@mkdir -p $(B)/stripped
	@for b in $(CROSS_BINS); do $(TRIPLET)-strip -o $(B)/stripped/$$b $(B)/$$b; done
	@echo "cross $(ARCH) ($(TRIPLET)): stripped, bytes:"; \
	  for b in $(CROSS_BINS); do printf '  %-16s %8d\n' $$b $$(stat -c %s $(B)/stripped/$$b); done

# The unit tests and an end-to-end smoke test (tests/cross) of the ARM build
check-cross: cross
	@$(MAKE) --no-print-directory ARCH=$(ARCH) cross-test

cross-test:
	@set -e; cd tests/unit; for t in $(UNIT_BIN:%=../../%); do echo "== $(ARCH): $$t"; $(RUN) $$t; done
	LIFELINE_BUILD=$(CURDIR)/$(B) LIFELINE_WRAP="$(QEMU) -L $(SYSROOT)" $(PYTHON) -m pytest -q -s tests/cross

# --- the Debian package (firmware/deb.sh): make deb [ARCH=arm64|armhf] ------
DEB_ARCH := $(if $(ARCH),$(ARCH),amd64)
.PHONY: deb deb-build
deb: deps $(if $(ARCH),deps-cross)
	@$(MAKE) --no-print-directory deps DEPS="lintian"
	$(if $(ARCH),firmware/sysroot.sh $(ARCH) build/sysroot-$(ARCH))
	@# Debian's build flags for the package's architecture (hardening=+all:
	@# bindnow and PIE too), on top of ours
	@export DEB_HOST_ARCH=$(DEB_ARCH) DEB_BUILD_MAINT_OPTIONS=hardening=+all; \
	  CFLAGS="$$(dpkg-buildflags --get CFLAGS)" CPPFLAGS="$$(dpkg-buildflags --get CPPFLAGS)" \
	  LDFLAGS="$$(dpkg-buildflags --get LDFLAGS)" \
	  $(MAKE) --no-print-directory ARCH=$(ARCH) PREFIX=/usr B=build-deb-$(DEB_ARCH) deb-build

deb-build: $(B)/lifelined $(B)/lifelinectl $(B)/lifeline-center
	firmware/deb.sh $(DEB_ARCH) $(B) build/deb
	lintian --fail-on error --suppress-tags-from-file firmware/lintian-overrides build/deb/lifeline_$(VERSION)_$(DEB_ARCH).deb

# --- the firmware image (firmware/image.sh): make image BOARD=qemu-arm64 ----
BOARD ?= qemu-arm64
IMAGE_DEPS := debootstrap qemu-system-arm e2fsprogs cpio
.PHONY: image image-test
image: deps
	@$(MAKE) --no-print-directory deps DEPS="$(IMAGE_DEPS)"
	@$(MAKE) --no-print-directory deb ARCH=arm64
	firmware/image.sh $(BOARD) build/image/$(BOARD)

# the signed update bundle of the image (RAUC; firmware/bundle.sh): with
# BUNDLE_KEY and BUNDLE_CERT, or BUNDLE_DEV=1 for a development key
BUNDLE_DEV ?= 0
.PHONY: bundle
bundle: deps
	BUNDLE_DEV=$(BUNDLE_DEV) firmware/bundle.sh $(BOARD) build/image/$(BOARD)

# boots it in qemu-system-aarch64 and checks an alarm gets out (tests/image)
image-test: $(B)/lifeline-center
	@$(MAKE) --no-print-directory deps DEPS="$(IMAGE_DEPS)"
	LIFELINE_BUILD=$(CURDIR)/$(B) LIFELINE_IMAGE=$(CURDIR)/build/image/$(BOARD) $(PYTHON) -m pytest -q -s tests/image

demo: deps
	$(MAKE) --no-print-directory $(BINS)
	LIFELINE_BUILD=$(CURDIR)/$(B) tests/sim/demo.sh

deps:
	@missing=$$(for p in $(DEPS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

install: $(B)/lifelined $(B)/lifelinectl $(B)/lifeline-center
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/lifeline/profiles
	install -m 0755 $(B)/lifelined $(DESTDIR)$(PREFIX)/sbin/lifelined
	install -m 0755 $(B)/lifeline-center $(DESTDIR)$(PREFIX)/bin/lifeline-center
	install -m 0755 $(B)/lifelinectl $(DESTDIR)$(PREFIX)/bin/lifelinectl
	install -m 0644 config/*.conf $(DESTDIR)$(PREFIX)/share/lifeline/
	install -m 0644 drivers/profiles/*.ini $(DESTDIR)$(PREFIX)/share/lifeline/profiles/

clean:
	rm -rf build build-san build-fuzz build-arm64 build-armhf build-deb-*

# --- benchmarks (figures, never pass/fail) --------------------------------
-include bench/bench.mk
