# The side-by-side benchmark (not part of `make test` or `make ci`: slow, and noisy on a
# shared machine).
#   make bench                         everything (docs/performance.md says how long the
#                                      committed run took); table + bench/results/latest.json
#   make bench BENCH_ARGS="--seconds 10 --no-scaling"
#   make bench BENCH_ARGS="--report bench/results/latest.json"   reprint a saved run
BENCH_ARGS ?=

.PHONY: bench

## Benchmark the service against its ceilings and Seldon MLServer, on loopback.
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)
