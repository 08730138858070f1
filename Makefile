# printbridge build.
#
#   make            build build/printbridge and build/printbridge-sim
#   make check      build and run every test, plain and again under ASan + UBSan
#   make demo       simulator + private mosquitto + daemon, showing the MQTT traffic
#   make bench      speed, memory and scale beside peers (bench-quick: about a minute)
#   make check-clients   the example Node-RED flow against a real Node-RED
#   make check-brokers   the MQTT contract on mosquitto, a mosquitto bridge and a RabbitMQ cluster
#   make install    PREFIX (default /usr/local), SYSCONFDIR and DESTDIR are honoured
#   make deb        build/printbridge_<version>_<arch>.deb (scripts/debian/), checked by lintian
#   make check-deb  that package installed, upgraded and removed in a clean Debian root
#   make clean
#
# BUILD selects the output folder and SAN=1 adds the sanitizers; `make check` uses both
# (build/ and build/san/) so a sanitizer build never mixes objects with a plain one.

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
# The configuration file is $(SYSCONFDIR)/printbridge.conf (per printer with printbridge@.service:
# $(SYSCONFDIR)/printbridge/<instance>.conf). SYSCONFDIR is baked into the daemon and the man pages
# at build time, so build and install with the same PREFIX (or SYSCONFDIR).
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR  ?= $(PREFIX)/lib/systemd/system
MANDIR   ?= $(PREFIX)/share/man
DESTDIR  ?=
BUILD    ?= build
SAN      ?=
CC       ?= cc
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
# the support URL Home Assistant shows for printbridge's discovery (its origin); none if empty
SUPPORT_URL ?=

# A bare machine gets its build libraries installed before anything is compiled, because the
# pkg-config calls below need them. Everything a test, the demo, fuzzing or the bench needs is
# installed by the target that uses it (deps-<set> below). `make clean` never installs anything.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
  ifneq ($(shell scripts/install-deps.sh --check build >/dev/null 2>&1; echo $$?),0)
    $(info printbridge: installing missing build dependencies with scripts/install-deps.sh)
    DEPS_RC := $(shell scripts/install-deps.sh build >&2; echo $$?)
    ifneq ($(DEPS_RC),0)
      $(error scripts/install-deps.sh failed; run it as root to see why)
    endif
  endif
endif

PKGS      := libuv jansson libconfig libserialport
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS    ?= -O2 -g
comma     := ,
SANFLAGS  := $(if $(SAN),-fsanitize=address$(comma)undefined$(comma)float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined$(comma)float-cast-overflow)
# CPPFLAGS and LDFLAGS come from the environment too (dpkg-buildflags' hardening in `make deb`)
ALLCFLAGS := -std=c11 -D_GNU_SOURCE -DPB_VERSION='"$(VERSION)"' $(if $(SUPPORT_URL),-DPB_SUPPORT_URL='"$(SUPPORT_URL)"') \
             -Iinclude $(WARN) $(CPPFLAGS) $(CFLAGS) \
             $(SANFLAGS) $(shell pkg-config --cflags $(PKGS)) -MMD -MP
# Paho is not linked: src/mqtt/paho.c opens its plain or TLS build at run time
LDLIBS_PB := $(shell pkg-config --libs $(PKGS)) -ldl -lm -lpthread
LDLIBS_SIM:= -lm
# recursive: Check is installed by deps-test after this file is read
LDLIBS_CK  = $(shell pkg-config --libs check)

# src/<layer>/*.c are the daemon's layers (include/printbridge/<layer>.h is each one's interface);
# src/sim/ is the simulator, a program of its own.
LAYERS    := base serial printer jobs mqtt wire config hooks tools commands app
PB_MAIN   := src/main.c
PB_SRC    := $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))
SIM_MAIN  := src/sim/main.c
SIM_SRC   := $(filter-out $(SIM_MAIN),$(wildcard src/sim/*.c))
TEST_SRC  := $(wildcard test/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

PB_OBJ    := $(call obj,$(PB_SRC))
SIM_OBJ   := $(call obj,$(SIM_SRC))
BASE_OBJ  := $(call obj,$(wildcard src/base/*.c))
TEST_OBJ  := $(call obj,$(TEST_SRC))
LIBPB     := $(BUILD)/libprintbridge.a
LIBSIM    := $(BUILD)/libpbsim.a
LIBBASE   := $(BUILD)/libpbbase.a
DAEMON    := $(BUILD)/printbridge
SIM       := $(BUILD)/printbridge-sim
RUNNER    := $(BUILD)/test/check-runner
SUITES_H  := $(BUILD)/test/suites.h
MANPAGES  := $(BUILD)/man/printbridge.8 $(BUILD)/man/printbridge.conf.5 $(BUILD)/man/printbridge-sim.1
# $(BUILD)/sysconfdir holds the SYSCONFDIR this build was made for; it changes only when
# SYSCONFDIR does, and then what embeds the path is rebuilt
PATHS     := $(BUILD)/sysconfdir
ifeq ($(filter clean,$(MAKECMDGOALS)),)
  $(shell mkdir -p $(BUILD) && { echo '$(SYSCONFDIR)' | cmp -s - $(PATHS) || echo '$(SYSCONFDIR)' >$(PATHS); })
endif

.PHONY: all man check check-plain check-san demo install uninstall clean bench deb check-deb
all: $(DAEMON) $(SIM) $(MANPAGES)
man: $(MANPAGES)

# deps-<set>: what one target needs beyond the build (scripts/install-deps.sh lists the sets)
deps-%:
	@scripts/install-deps.sh --check $* >/dev/null 2>&1 || scripts/install-deps.sh $*

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(ALLCFLAGS) -c $< -o $@

$(LIBPB): $(PB_OBJ)
	@mkdir -p $(@D)
	@rm -f $@ && ar rcs $@ $^

$(LIBSIM): $(SIM_OBJ)
	@mkdir -p $(@D)
	@rm -f $@ && ar rcs $@ $(or $^,)

# the simulator uses the base layer only (strbuf), so it links that alone
$(LIBBASE): $(BASE_OBJ)
	@mkdir -p $(@D)
	@rm -f $@ && ar rcs $@ $^

# the default configuration file, printed by --help
$(call obj,$(PB_MAIN)): $(PATHS)
$(call obj,$(PB_MAIN)): ALLCFLAGS += -DPB_SYSCONFDIR='"$(SYSCONFDIR)"'

$(DAEMON): $(call obj,$(PB_MAIN)) $(LIBPB)
	@echo "  LINK    $@"
	@$(CC) $(ALLCFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_PB)

$(SIM): $(call obj,$(SIM_MAIN)) $(LIBSIM) $(LIBBASE)
	@echo "  LINK    $@"
	@$(CC) $(ALLCFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_SIM)

# Man pages: man/ holds them with @SYSCONFDIR@ and @VERSION@ to fill in. printbridge.conf(5) gets
# its SETTINGS section from etc/printbridge.conf, the one description of every setting
# (scripts/conf2man.awk); printbridge-sim(1) gets its options from the simulator's --help.
MANSUBST = sed -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@VERSION@|$(VERSION)|g'
$(BUILD)/man/printbridge.8: man/printbridge.8 $(PATHS) VERSION
	@mkdir -p $(@D)
	@$(MANSUBST) $< >$@
$(BUILD)/man/printbridge.conf.5: man/printbridge.conf.5 etc/printbridge.conf scripts/conf2man.awk $(PATHS) VERSION
	@mkdir -p $(@D)
	@echo "  MAN     $@"
	@awk -f scripts/conf2man.awk etc/printbridge.conf $< | $(MANSUBST) >$@.tmp && mv $@.tmp $@
$(BUILD)/man/printbridge-sim.1: man/printbridge-sim.1 scripts/help2man.awk $(SIM) VERSION
	@mkdir -p $(@D)
	@echo "  MAN     $@"
	@$(SIM) --help >$@.help && awk -f scripts/help2man.awk $@.help $< | $(MANSUBST) >$@.tmp && mv $@.tmp $@ && rm -f $@.help

# Every test/test_*.c defines `Suite *<name>_suite(void)`; the runner calls them all, so a new
# test file needs no registration anywhere else.
$(SUITES_H): $(TEST_SRC)
	@mkdir -p $(@D)
	@grep -ho '^Suite \*[a-z0-9_]*_suite(void)' $(TEST_SRC) | sort -u | sed 's/^Suite \*\(.*\)_suite(void)/PB_SUITE(\1)/' > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/obj/test/check_main.o: $(SUITES_H)
$(BUILD)/obj/test/check_main.o: ALLCFLAGS += -I$(BUILD)/test

# tests reach the pure functions behind each layer's interface through its private headers
$(TEST_OBJ): ALLCFLAGS += -Isrc
$(TEST_OBJ): | deps-test
$(RUNNER): $(TEST_OBJ) $(LIBSIM) $(LIBPB) | deps-test
	@mkdir -p $(@D)
	@echo "  LINK    $@"
	@$(CC) $(ALLCFLAGS) -o $@ $(TEST_OBJ) $(LIBSIM) $(LIBPB) $(LDLIBS_PB) $(LDLIBS_CK) -lutil

# The runner holds the unit suites and the integration scripts (test/it/*.sh, run against the
# binaries of the same build), so Check's summary line covers everything.
check-plain: $(DAEMON) $(SIM) $(MANPAGES) $(RUNNER)
	PB_BUILD=$(abspath $(BUILD)) PB_SRCDIR=$(CURDIR) $(RUNNER)

check-san:
	$(MAKE) --no-print-directory BUILD=build/san SAN=1 check-plain

# The plain and the sanitizer runs go side by side: most of their time is spent waiting on
# brokers, simulators and timers, so together they take little more than the slower one.
# Their outputs are shown one after the other; the sanitizer run's summary line comes last.
check: deps-test
	@$(MAKE) --no-print-directory $(DAEMON) $(SIM) $(MANPAGES) $(RUNNER)
	@$(MAKE) --no-print-directory BUILD=build/san SAN=1 build/san/printbridge build/san/printbridge-sim build/san/test/check-runner \
	  $(subst $(BUILD)/,build/san/,$(MANPAGES))
	@PB_BUILD=$(abspath $(BUILD)) PB_SRCDIR=$(CURDIR) $(RUNNER) >$(BUILD)/check-plain.log 2>&1 & plain=$$!; \
	PB_BUILD=$(abspath build/san) PB_SRCDIR=$(CURDIR) build/san/test/check-runner >build/san/check-san.log 2>&1; san=$$?; \
	wait $$plain; plainrc=$$?; \
	cat $(BUILD)/check-plain.log; \
	echo "--- again under AddressSanitizer and UndefinedBehaviorSanitizer"; \
	cat build/san/check-san.log; \
	test $$plainrc -eq 0 -a $$san -eq 0

demo: $(DAEMON) $(SIM) | deps-demo
	@scripts/demo.sh $(abspath $(BUILD))

# The example Node-RED flow against a real, pinned Node-RED (npm ci into $(BUILD)/clients/,
# needs Node.js and npm: scripts/install-deps.sh --clients). Not part of `make check`, so a bare
# machine builds and tests without Node.js; CI runs both. SCREENSHOT=FILE also renders the
# dashboard with headless chromium.
.PHONY: check-clients
check-clients: $(DAEMON) $(SIM) | deps-test
	@scripts/check-clients.sh $(abspath $(BUILD))$(if $(SCREENSHOT), --screenshot $(SCREENSHOT))

# The service runs as the system user printbridge (created here unless DESTDIR is set: a package
# creates it in its own scripts). The configuration is root:printbridge 0640: the service reads
# it but cannot change it, and other users cannot read the broker password. An existing
# configuration file is never overwritten.
install: $(DAEMON) $(SIM) $(MANPAGES)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(DAEMON) $(SIM) $(DESTDIR)$(BINDIR)/
	test -e $(DESTDIR)$(SYSCONFDIR)/printbridge.conf || install -m 0640 etc/printbridge.conf $(DESTDIR)$(SYSCONFDIR)/printbridge.conf
	test -d $(DESTDIR)$(SYSCONFDIR)/printbridge || install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/printbridge
	for u in printbridge.service printbridge@.service; do sed 's|@BINDIR@|$(BINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	install -m 0644 $(BUILD)/man/printbridge-sim.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(BUILD)/man/printbridge.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(BUILD)/man/printbridge.8 $(DESTDIR)$(MANDIR)/man8/
	@if [ -z "$(DESTDIR)" ]; then \
	  getent passwd printbridge >/dev/null || useradd --system --user-group --home-dir /var/lib/printbridge \
	    --no-create-home --shell /usr/sbin/nologin --comment "printbridge daemon" printbridge || exit 1; \
	  chgrp printbridge $(SYSCONFDIR)/printbridge.conf $(SYSCONFDIR)/printbridge || exit 1; \
	  echo "printbridge: edit $(SYSCONFDIR)/printbridge.conf (printer.port, the mqtt group), then: systemctl enable --now printbridge"; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/printbridge $(DESTDIR)$(BINDIR)/printbridge-sim $(DESTDIR)$(UNITDIR)/printbridge.service \
	      $(DESTDIR)$(UNITDIR)/printbridge@.service $(DESTDIR)$(MANDIR)/man8/printbridge.8 $(DESTDIR)$(MANDIR)/man5/printbridge.conf.5 \
	      $(DESTDIR)$(MANDIR)/man1/printbridge-sim.1

# ---- make deb, make check-deb (scripts/debian/) --------------------------------------------------
# make deb: the source tree (without build/ and .git) is copied to $(BUILD)/deb/ with
# scripts/debian/ as its debian/ folder and built there by dpkg-buildpackage (debhelper), so the
# package is made by Debian's own tools from a clean copy; lintian must report no error.
# VERSION=X overrides the package version (check-deb builds an upgrade that way).
# make check-deb: test/deb/test_deb.sh installs it into a fresh Debian root (mmdebstrap),
# upgrades it over an edited configuration and removes it; needs root and the Debian mirror.
DEB_ARCH = $(shell dpkg --print-architecture 2>/dev/null)
DEB      = $(BUILD)/printbridge_$(VERSION)_$(DEB_ARCH).deb
DEB_TREE = $(BUILD)/deb/printbridge-$(VERSION)
deb: | deps-deb
	@rm -rf $(BUILD)/deb && mkdir -p $(DEB_TREE)
	@tar -C $(CURDIR) --exclude=./build --exclude='./build-*' --exclude=./.git -cf - . | tar -C $(DEB_TREE) -xf -
	@cp -r scripts/debian $(DEB_TREE)/debian
	@printf '%s\n' "$(VERSION)" >$(DEB_TREE)/VERSION
	@scripts/debian-changelog.sh "$(VERSION)" >$(DEB_TREE)/debian/changelog
	cd $(DEB_TREE) && dpkg-buildpackage --build=binary --no-sign >../build.log 2>&1 \
	  || { tail -n 40 ../build.log; echo "make deb: dpkg-buildpackage failed (log: $(BUILD)/deb/build.log)"; exit 1; }
	@cp $(BUILD)/deb/printbridge_$(VERSION)_$(DEB_ARCH).deb $(DEB)
	lintian --fail-on error --tag-display-limit 0 $(DEB)
	@echo "make deb: $(DEB)"

check-deb: | deps-deb deps-debroot
	@bash test/deb/test_deb.sh $(abspath $(BUILD))
# ---- end of deb ----------------------------------------------------------------------------------

# ---- make bench, make bench-quick (bench/; the latest table is in docs/bench.md) ------------------------------------
# The bench's C tools are built into $(BUILD)/bench/ with the project's flags; the peers it
# measures against (Printrun's printcore and gcoder) are installed by the bench itself through
# `scripts/install-deps.sh --bench`, so `make check` never needs them.
BENCH_DIR   := $(BUILD)/bench
BENCH_TOOLS := $(BENCH_DIR)/pb-stream $(BENCH_DIR)/pb-respond $(BENCH_DIR)/pb-gcode-gen $(BENCH_DIR)/pb-latency
.PHONY: bench-quick bench-tools bench-deps

$(BENCH_DIR)/pb-latency: bench/pb-latency.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(ALLCFLAGS) -o $@ $< -lpaho-mqtt3as -lpthread -lutil

$(BENCH_DIR)/%: bench/%.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(ALLCFLAGS) -o $@ $< -lutil

bench-tools: $(BENCH_TOOLS)

bench-deps: deps-bench deps-demo deps-brokers

# BASELINE=DIR (a folder with an earlier printbridge; bench/build-baseline.sh REV builds one)
# streams it side by side with this build
BENCH_ARGS = $(if $(BASELINE),--baseline $(abspath $(BASELINE)))
bench: $(DAEMON) $(SIM) $(BENCH_TOOLS) bench-deps
	@/usr/bin/python3 bench/run.py --build $(abspath $(BUILD)) $(BENCH_ARGS)

bench-quick: $(DAEMON) $(SIM) $(BENCH_TOOLS) bench-deps
	@/usr/bin/python3 bench/run.py --build $(abspath $(BUILD)) --quick $(BENCH_ARGS)
# ---- end of bench ------------------------------------------------------------------------------

# ---- make fuzz, make check-faults (test/fuzz/, test/faults/) ----
# make fuzz [FUZZ_SECONDS=30]: clang libFuzzer + ASan + UBSan, each target for FUZZ_SECONDS on a
# corpus in build/fuzz/corpus/ grown from test/fuzz/<target>/seeds/. The seeds and every past
# crash (test/fuzz/<target>/crashes/) are also replayed by `make check` (test/test_fuzz_seeds.c).
# make check-faults: the fault drills in test/faults/ against the plain build, valgrind included.
FUZZ_SECONDS ?= 30
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := fuzz_protocol fuzz_analysis fuzz_config fuzz_placeholders fuzz_topicfilter fuzz_commands
.PHONY: fuzz fuzz-build check-faults

fuzz-build: deps-fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" $(FUZZ_BUILD)/libprintbridge.a
	@$(MAKE) --no-print-directory $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

$(FUZZ_BUILD)/fuzz_%: test/fuzz/fuzz_%.c test/fuzz/fuzz_common.h $(FUZZ_BUILD)/libprintbridge.a
	@echo "  FUZZCC  $@"
	@$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Iinclude -Isrc $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer $(shell pkg-config --cflags $(PKGS)) \
	  -o $@ $< $(FUZZ_BUILD)/libprintbridge.a $(LDLIBS_PB)

fuzz: fuzz-build
	@test/fuzz/run.sh $(abspath $(FUZZ_BUILD)) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

check-faults: $(DAEMON) $(SIM) | deps-test deps-faults
	@PB_BUILD=$(abspath $(BUILD)) PB_SRCDIR=$(CURDIR) test/faults/run.sh
# ---- end of fuzz, check-faults -----------------------------------------------------------------

# ---- make check-klipper ---------------------------------------------------------------------------
# printbridge against the real Klipper host on its G-code pty (docs/klipper.md), through the
# harness in ../shared/tools/klipper-vp/run.sh (or KLIPPER_VP=path); skipped with one line when
# it is absent. The harness's Python packages come from scripts/install-deps.sh --klipper.
.PHONY: check-klipper
check-klipper: $(DAEMON) $(SIM) | deps-test deps-klipper
	@PB_BUILD=$(abspath $(BUILD)) PB_SRCDIR=$(CURDIR) test/klipper/run.sh
# ---- end of check-klipper ------------------------------------------------------------------------

# ---- make check-tools ----------------------------------------------------------------------------
# Timelapse and slicing with real tools: installs ffmpeg and PrusaSlicer 2.5 (headless
# --export-gcode; scripts/install-deps.sh --tools) and runs the suites and the integration script
# that `make check` skips (with a message) when the tools are missing.
.PHONY: check-tools
check-tools: $(DAEMON) $(SIM) $(RUNNER) | deps-tools
	CK_RUN_SUITE=timelapse_tools PB_BUILD=$(abspath $(BUILD)) PB_SRCDIR=$(CURDIR) $(RUNNER)
	CK_RUN_SUITE=slicing PB_BUILD=$(abspath $(BUILD)) PB_SRCDIR=$(CURDIR) $(RUNNER)
	PB_BUILD=$(abspath $(BUILD)) PB_SRCDIR=$(CURDIR) bash test/it/test_slicing_tools.sh
# ---- end of check-tools --------------------------------------------------------------------------

# ---- make check-brokers (test/brokers/) -----------------------------------------------------------
# The MQTT contract a print farm relies on, against each broker topology of docs/farm.md: one
# mosquitto, a site mosquitto bridged to a central one, and a two-node RabbitMQ cluster (Debian's
# rabbitmq-server with its MQTT plugin; scripts/install-deps.sh --brokers). Every broker runs
# from the test's folder on free loopback ports and is stopped at the end.
BROKER_TOPOLOGIES ?= mosquitto bridge rabbitmq
.PHONY: check-brokers
check-brokers: $(DAEMON) $(SIM) | deps-test deps-brokers
	@for t in $(BROKER_TOPOLOGIES); do \
	  PB_BUILD=$(abspath $(BUILD)) PB_SRCDIR=$(CURDIR) bash test/brokers/test_broker_contract.sh $$t || exit 1; \
	done
# ---- end of check-brokers ------------------------------------------------------------------------

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
