# Operations: dependency audit, Prometheus rules, the operations test suite.
#   make audit             known vulnerabilities in the resolved dependencies (pip-audit)
#   make prometheus-check  promtool: scrape config, alert rules and their unit tests
#   make test-ops          metrics, reload and restarts under load, fuzzing, public exposure
# `make audit` asks PyPI's advisory data (pip-audit's default service). Where that service
# cannot be reached, every dependency comes back "could not be audited": the audit then says
# so and passes, unless AUDIT_REQUIRED=1 (set it where PyPI's JSON API answers, e.g. hosted CI).

AUDIT_REQUIRED ?= 0
AUDIT_ARGS ?=
AUDIT_REPORT := $(VENV)/pip-audit.json

# promtool (checks the sample Prometheus config and unit-tests the alert rules).
SYSTEM_PACKAGES += prometheus
CI_TARGETS += audit

.PHONY: audit prometheus-check test-ops

define AUDIT_VERDICT
import json, os, sys
try:
    dependencies = json.load(open(sys.argv[1]))["dependencies"]
except (OSError, ValueError, KeyError) as exc:
    print(f"audit: pip-audit wrote no report ({exc})")
    sys.exit(1)
vulnerable = [d for d in dependencies if d.get("vulns")]
skipped = [d for d in dependencies if "skip_reason" in d]
for d in vulnerable:
    for v in d["vulns"]:
        fixed = ", ".join(v["fix_versions"]) or "no fixed release yet"
        print(f"audit: {d['name']} {d['version']}: {v['id']} (fixed in {fixed})")
if vulnerable:
    sys.exit(1)
if dependencies and len(skipped) == len(dependencies):
    required = os.environ.get("AUDIT_REQUIRED") == "1"
    print(f"audit: {'FAILED' if required else 'NOT RUN'}: the vulnerability service answered for "
          f"none of the {len(dependencies)} dependencies ({skipped[0]['skip_reason']})")
    sys.exit(1 if required else 0)
for d in skipped:
    print(f"audit: not audited: {d['skip_reason']}")
if skipped:
    sys.exit(1)
print(f"audit: {len(dependencies)} dependencies, no known vulnerabilities")
endef
export AUDIT_VERDICT

## Known vulnerabilities in every package resolved into the virtualenv (pip-audit).
audit: $(STAMP)
	rm -f $(AUDIT_REPORT)
	-$(VENV)/bin/pip-audit --local --skip-editable --progress-spinner off \
		--format json --output $(AUDIT_REPORT) $(AUDIT_ARGS)
	AUDIT_REQUIRED=$(AUDIT_REQUIRED) $(PY) -c "$$AUDIT_VERDICT" $(AUDIT_REPORT)

## promtool on deploy/prometheus: config, rules, alert unit tests.
prometheus-check:
	cd deploy/prometheus && promtool check config prometheus.yml \
		&& promtool test rules alerts.test.yml

## The operations suite alone.
test-ops: system-deps $(STAMP) test-deps
	$(PY) -m pytest tests/ops $(PYTEST_ARGS)
