# Operations: dependency audit, Prometheus rules, the operations test suite.
#   make audit             known vulnerabilities in requirements/serving.lock (pip-audit)
#   make prometheus-check  promtool: scrape config, alert rules and their unit tests
#   make test-ops          metrics, reload and restarts under load, fuzzing, public exposure
# `make audit` asks PyPI's advisory data (pip-audit's default service). Where that service
# cannot be reached, every dependency comes back "could not be audited": the audit then says
# so and passes, unless AUDIT_REQUIRED=1 (set it where PyPI's JSON API answers, e.g. hosted CI).

AUDIT_REQUIRED ?= 0
AUDIT_ARGS ?=

# promtool (checks the sample Prometheus config and unit-tests the alert rules).
SYSTEM_PACKAGES += prometheus
CI_TARGETS += audit

.PHONY: audit prometheus-check test-ops

## Known vulnerabilities in what the image installs: pip-audit of requirements/serving.lock.
audit: $(STAMP)
	AUDIT_REQUIRED=$(AUDIT_REQUIRED) $(PY) tools/delivery/audit.py $(AUDIT_ARGS)

## promtool on deploy/prometheus: config, rules, alert unit tests.
prometheus-check:
	cd deploy/prometheus && promtool check config prometheus.yml \
		&& promtool test rules alerts.test.yml

## The operations suite alone.
test-ops: system-deps $(STAMP) test-deps
	$(PY) -m pytest tests/ops $(PYTEST_ARGS)
