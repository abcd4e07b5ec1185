# The try-it page (web/index.html, served by Envoy at GET /) and its browser tests.
#   make test-browser   headless Chromium against the real stack; screenshots in test-artifacts/browser/
#   make web-check      the page is one self-contained file within Envoy's direct-response limit

SYSTEM_PACKAGES += chromium chromium-driver
CHECK_TARGETS += web-check

# Envoy's max_direct_response_body_size_bytes for the page's route.
WEB_PAGE_LIMIT := 1048576

.PHONY: test-browser web-check

## The browser tests: headless Chromium against the real stack.
test-browser: $(STAMP)
	bash tools/system-deps.sh chromium chromium-driver
	$(PY) -m pytest tests/browser $(PYTEST_ARGS)

## The try-it page is one self-contained file within Envoy's direct-response limit.
web-check:
	@size=$$(wc -c < web/index.html); \
	if [ $$size -gt $(WEB_PAGE_LIMIT) ]; then \
		echo "web/index.html is $$size bytes, over Envoy's $(WEB_PAGE_LIMIT)-byte limit"; exit 1; fi
	@if grep -nE '(src|href)=["'"'"']?(https?:)?//|@import|url\((https?:)?//' web/index.html; then \
		echo "web/index.html loads something from elsewhere; keep it self-contained"; exit 1; fi
	@echo "web/index.html: $$(wc -c < web/index.html) bytes, self-contained"
