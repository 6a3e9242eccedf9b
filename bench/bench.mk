# Benchmarks: figures, never pass/fail. Included by the top-level Makefile,
# so $(B), $(CC), $(CFLAGS) and $(LDFLAGS) are the project's.
#   make bench          every benchmark
#   make bench-modbus   polling rate vs a raw libmodbus loop, coalescing, RTU limits
.PHONY: bench bench-all bench-modbus

# Every benchmark, then one table of what each reported (BENCH_TABLE: each
# appends its rows "figure|ours|baseline|ratio|goal" there).
bench:
	@mkdir -p $(B)/bench && : > $(B)/bench/table.txt
	@$(MAKE) --no-print-directory BENCH_TABLE=$(CURDIR)/$(B)/bench/table.txt bench-all
	@echo
	@echo "== make bench: $$(date -u '+%Y-%m-%d %H:%M:%SZ'), $$(uname -m), $$(nproc) CPU," \
	  "$$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), lifelined $$(git rev-parse --short HEAD 2>/dev/null)"
	@{ echo "figure|ours|baseline|ratio|goal"; cat $(B)/bench/table.txt; } | \
	  awk -F'|' '{ printf "  %-44s %-24s %-26s %-10s %s\n", $$1, $$2, $$3, $$4, $$5 }'

bench-all: bench-modbus

$(B)/bench/raw_loop: bench/modbus/raw_loop.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs libmodbus)

bench-modbus: $(B)/lifelined $(B)/lifeline-sim $(B)/bench/raw_loop
	LIFELINE_BUILD=$(CURDIR)/$(B) bench/modbus/run.sh

# bench-rules: instructions per sample of rule evaluation (callgrind, repeatable)
.PHONY: bench-rules
bench-all: bench-rules

$(B)/bench/bench_rules: bench/rules/bench_rules.c $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_bench) $(LDFLAGS) -o $@ $< $(LIBCORE) $(PKG_LIBS) -lpthread -lm

bench-rules: $(B)/bench/bench_rules
	B=$(CURDIR)/$(B) bench/rules/run.sh

# bench-store: readings/s through the store path vs plain SQLite, bytes per
# reading, outbox drain rate to a local mosquitto, 24 h backlog drain time
.PHONY: bench-store
bench-all: bench-store

$(B)/bench/bench_store: bench/store/bench_store.c $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_bench) $(LDFLAGS) -o $@ $< $(LIBCORE) $(PKG_LIBS) -lpthread -lm

bench-store: $(B)/lifelined $(B)/bench/bench_store
	B=$(CURDIR)/$(B) bench/store/run.sh

# bench-peer: collectd (modbus + mqtt plugins) and lifelined on the same job,
# one after the other: CPU per reading, peak RSS, serve->broker latency
.PHONY: bench-peer bench-deps
bench-all: bench-peer

# collectd-core only suggests libmodbus5 and libmosquitto1, which its modbus
# and mqtt plugins need (make deps brings both); note that the package
# enables a collectd.service of its own
BENCH_DEPS := collectd-core
bench-deps: deps
	@$(MAKE) --no-print-directory deps DEPS="$(BENCH_DEPS)"

bench-peer: bench-deps $(B)/lifelined
	LIFELINE_BUILD=$(CURDIR)/$(B) bench/peer/run.sh

# bench-footprint: stripped sizes, RSS with 10 and 500 sensors
.PHONY: bench-footprint
bench-all: bench-footprint

bench-footprint: $(B)/lifelined $(B)/lifelinectl
	LIFELINE_BUILD=$(CURDIR)/$(B) bench/footprint/run.sh

# bench-rtu: an RTU line's achieved transactions/s against the frame arithmetic
.PHONY: bench-rtu
bench-all: bench-rtu

bench-rtu: $(B)/lifelined
	LIFELINE_BUILD=$(CURDIR)/$(B) bench/rtu/run.sh

# bench-gpio: GPIO edge -> broker latency in the VM of tests/vm
.PHONY: bench-gpio
bench-all: bench-gpio

bench-gpio: $(B)/lifelined $(B)/lifelinectl
	LIFELINE_BUILD=$(CURDIR)/$(B) VMDIR=$(CURDIR)/$(VMDIR) bench/gpio/run.sh

# bench-hotpath: instructions per reading of the whole daemon (callgrind)
.PHONY: bench-hotpath
bench-all: bench-hotpath

bench-hotpath: $(B)/lifelined
	LIFELINE_BUILD=$(CURDIR)/$(B) bench/hotpath/run.sh

# bench-fleet: N gateways against one broker and one lifeline-center serve:
# alarm events/s stored, sample -> center database latency, backlog rate
.PHONY: bench-fleet
bench-all: bench-fleet

bench-fleet: $(B)/lifelined $(B)/lifeline-center
	LIFELINE_BUILD=$(CURDIR)/$(B) bench/fleet/run.sh

# bench-soak: one gateway, 500 sensors at 1 s for 30 minutes: RSS, CPU,
# outbox (not in make bench: it takes SOAK_SECONDS, 1800 by default)
.PHONY: bench-soak
bench-soak: $(B)/lifelined
	LIFELINE_BUILD=$(CURDIR)/$(B) bench/soak/run.sh
