# Benchmarks: figures, never pass/fail. Included by the top-level Makefile,
# so $(B), $(CC), $(CFLAGS) and $(LDFLAGS) are the project's.
#   make bench          every benchmark
#   make bench-modbus   polling rate vs a raw libmodbus loop, coalescing, RTU limits
.PHONY: bench bench-modbus

bench: bench-modbus

$(B)/bench/raw_loop: bench/modbus/raw_loop.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs libmodbus)

bench-modbus: $(B)/lifelined $(B)/lifeline-sim $(B)/bench/raw_loop
	LIFELINE_BUILD=$(CURDIR)/$(B) bench/modbus/run.sh

# bench-rules: instructions per sample of rule evaluation (callgrind, repeatable)
.PHONY: bench-rules
bench: bench-rules

$(B)/bench/bench_rules: bench/rules/bench_rules.c $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBCORE) $(PKG_LIBS) -lpthread -lm

bench-rules: $(B)/bench/bench_rules
	B=$(CURDIR)/$(B) bench/rules/run.sh

# bench-store: readings/s through the store path vs plain SQLite, bytes per
# reading, outbox drain rate to a local mosquitto, 24 h backlog drain time
.PHONY: bench-store
bench: bench-store

$(B)/bench/bench_store: bench/store/bench_store.c $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBCORE) $(PKG_LIBS) -lpthread -lm

bench-store: $(B)/lifelined $(B)/bench/bench_store
	B=$(CURDIR)/$(B) bench/store/run.sh
