"""Render the Envoy configs that compose and the Kubernetes manifests ship.

    python -m tools.delivery.deploy_config          # write every rendered file
    python -m tools.delivery.deploy_config --check  # exit 1 if any is stale
    python -m tools.delivery.deploy_config --output-dir DIR  # write them under DIR instead

Every config is rendered from the repository's `envoy.yaml` by `server.stack.envoy_config`; the
files are generated, never edited by hand, and `--check` keeps them in step with their sources:

- deploy/base/envoy/: the open config (no auth) for Kubernetes, plus the descriptor set and
  the try-it page (kustomize only reads files inside a kustomization, so they are copied).
- deploy/overlays/production/envoy/: production in Kubernetes, behind the TLS Ingress: JWT,
  rate limits per caller (the token's subject, else the client address taken from the
  Ingress's X-Forwarded-For) weighted by body size, a request body cap and the stats listener
  for Prometheus.
- deploy/compose/: the same for docker compose's `production` profile, Envoy facing callers
  directly and terminating TLS.
- deploy/base/models/: the model repository `deploy/models/` as data for Kubernetes: a
  ConfigMap whose keys are flat file names (keys cannot hold `/`), and a patch giving the
  server's volume the `items` that put each key back at its path (`NAME/VERSION.json`).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from model.repository import load_repository, repository_files
from server.stack import envoy_config
from server.stack.envoy_config import EnvoyOptions

ROOT = Path(__file__).resolve().parent.parent.parent

# Where Envoy sees its files, in Kubernetes (ConfigMaps) and in compose (bind mounts) alike.
MOUNT_DIR = Path("/etc/envoy")
JWKS = Path("/etc/jwks/jwks.json")
TLS_CERT = MOUNT_DIR / "tls" / "tls.crt"
TLS_KEY = MOUNT_DIR / "tls" / "tls.key"
DESCRIPTOR = "prediction_descriptor.pb"
PAGE = "index.html"
OPENAPI = "openapi.json"
HTTP_PORT = 8080

# Production settings. Set the issuer and audience to your identity provider's, then
# `make deploy-config`: tokens with any other `iss` get 401, any other `aud` 403.
JWT_ISSUER = "https://auth.diabetes.example.com/"
JWT_AUDIENCE = "diabetes-api"
RATE_LIMIT_RPS = 50
RATE_LIMIT_BURST = 100
# The Ingress's proxy-body-size (deploy/overlays/production/ingress.yaml): 100,000 ten-feature
# records of JSON fit.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
# Each caller's body allowance: one token per byte of Content-Length, refilled at 32 MiB/s, up
# to two full-size bodies at once (so a 100,000-record call costs about a second of it, a
# one-record call next to nothing).
RATE_LIMIT_BYTES_PER_SECOND = MAX_REQUEST_BYTES
RATE_LIMIT_BYTES_BURST = 2 * MAX_REQUEST_BYTES
STATS_PORT = 9902

# Kubernetes: the server's headless Service (one endpoint per pod). Compose: its service name.
K8S_UPSTREAM = ("diabetes-server", 50051)
COMPOSE_UPSTREAM = ("server", 50051)

OPEN = EnvoyOptions(
    upstreams=(K8S_UPSTREAM,),
    listen_address="0.0.0.0",
    http_port=HTTP_PORT,
    descriptor=MOUNT_DIR / DESCRIPTOR,
    page=MOUNT_DIR / PAGE,
)
PRODUCTION = replace(
    OPEN,
    jwks=JWKS,
    jwt_issuer=JWT_ISSUER,
    jwt_audiences=(JWT_AUDIENCE,),
    rate_limit_rps=RATE_LIMIT_RPS,
    rate_limit_burst=RATE_LIMIT_BURST,
    rate_limit_bytes_per_second=RATE_LIMIT_BYTES_PER_SECOND,
    rate_limit_bytes_burst=RATE_LIMIT_BYTES_BURST,
    max_request_bytes=MAX_REQUEST_BYTES,
    # The Ingress controller is the one proxy in front: it appends the caller's address.
    trusted_proxy_hops=1,
    stats_port=STATS_PORT,
)
# Compose: callers reach Envoy directly (no proxy whose X-Forwarded-For could be trusted), so
# Envoy terminates TLS itself: bearer tokens never cross plain HTTP (compose refuses to start
# the production profile without a certificate).
COMPOSE_PRODUCTION = replace(
    PRODUCTION,
    upstreams=(COMPOSE_UPSTREAM,),
    trusted_proxy_hops=0,
    tls_cert=TLS_CERT,
    tls_key=TLS_KEY,
)


# The model repository Kubernetes serves: `diabetes-models add|canary|promote|rollback
# --repository deploy/models`, then `make deploy-config` and `kubectl apply -k`.
MODEL_REPOSITORY = Path("deploy/models")
MODELS_TARGET = Path("deploy/base/models")
MODELS_CONFIGMAP = "diabetes-models"
# The server Deployment's volume (mounted read-only on DIABETES_MODEL_REPOSITORY).
MODELS_VOLUME = "models"
SERVER_DEPLOYMENT = "diabetes-server"
# The API server refuses a ConfigMap whose data is over 1 MiB; a bigger repository needs a
# volume (docs/runbook.md, "Kubernetes: models as data").
CONFIGMAP_LIMIT_BYTES = 1024 * 1024
# What a ConfigMap key may be made of (and `..` may not start it: the kubelet's own names).
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
KEY_SEPARATOR = "--"


class ModelRepositoryError(ValueError):
    """The repository cannot be shipped as a ConfigMap; the message says why."""


def configmap_items(root: Path) -> dict[str, str]:
    """Each repository file's ConfigMap key (its path with `/` as `--`) to its path."""
    items: dict[str, str] = {}
    for path in repository_files(root):
        relative = path.relative_to(root).as_posix()
        key = relative.replace("/", KEY_SEPARATOR)
        if not CONFIGMAP_KEY.match(key) or key.startswith(".."):
            raise ModelRepositoryError(
                f"{root / relative}: {key!r} cannot be a ConfigMap key (letters, digits, "
                "'-', '_' and '.' only); rename the model or version"
            )
        if key in items:
            raise ModelRepositoryError(
                f"{root / relative} and {root / items[key]} would both be key {key!r}"
            )
        items[key] = relative
    return items


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line strings (the artifacts) as `|` blocks, readable in a diff."""


def _literal(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_LiteralDumper.add_representer(str, _literal)


def model_repository_files(root: Path = ROOT) -> dict[Path, bytes]:
    """The model repository's ConfigMap and the server volume patch that maps its keys back
    to paths. Refuses a repository the server would not load, or one over the limit."""
    source = root / MODEL_REPOSITORY
    # What every pod will load: refuse it here, not in the cluster. A pod would serve the
    # rest of a repository with a bad file; a shipped one holds none.
    refused = load_repository(source).refused
    if refused:
        raise ModelRepositoryError(
            f"{MODEL_REPOSITORY}: a server would refuse "
            + "; ".join(f"{each.path} ({each.reason})" for each in refused)
        )
    items = configmap_items(source)
    data = {key: (source / path).read_text(encoding="utf-8") for key, path in items.items()}
    size = sum(len(key) + len(value.encode()) for key, value in data.items())
    if size > CONFIGMAP_LIMIT_BYTES:
        raise ModelRepositoryError(
            f"{MODEL_REPOSITORY} is {size} bytes, over a ConfigMap's {CONFIGMAP_LIMIT_BYTES}: "
            "serve it from a volume instead (docs/runbook.md)"
        )
    header = (
        f"# Generated by tools/delivery/deploy_config.py from {MODEL_REPOSITORY}/. Do not edit:\n"
        f"# change the repository with `diabetes-models ... --repository {MODEL_REPOSITORY}`,\n"
        "# then `make deploy-config`.\n"
    )
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        # No content hash in the name: an update reaches running pods in place (the kubelet
        # swaps the volume's files; the server's watcher reloads), no restart.
        "metadata": {"name": MODELS_CONFIGMAP},
        "data": data,
    }
    volume = {
        "name": MODELS_VOLUME,
        "configMap": {
            "name": MODELS_CONFIGMAP,
            "items": [{"key": key, "path": path} for key, path in items.items()],
        },
    }
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": SERVER_DEPLOYMENT},
        "spec": {"template": {"spec": {"volumes": [volume]}}},
    }

    def dump(document: Mapping[str, object], about: str) -> bytes:
        text = yaml.dump(document, Dumper=_LiteralDumper, sort_keys=False, width=100)
        return (header + f"# {about}\n" + text).encode()

    return {
        MODELS_TARGET / "model-repository.yaml": dump(
            configmap, "The model repository, one key per file (NAME--VERSION.json)."
        ),
        MODELS_TARGET / "server-volume.yaml": dump(
            patch, "The server's volume: each key back at its path (NAME/VERSION.json)."
        ),
    }


@dataclass(frozen=True)
class Target:
    """A directory of generated files: Envoy configs by file name, and whether the
    descriptor set and the try-it page go along."""

    directory: Path
    about: str
    configs: dict[str, EnvoyOptions] = field(default_factory=dict)
    assets: bool = False


TARGETS = (
    Target(
        Path("deploy/base/envoy"),
        "Envoy in Kubernetes, open (no auth): upstream is the server's headless Service.",
        {"envoy.yaml": OPEN},
        assets=True,
    ),
    Target(
        Path("deploy/overlays/production/envoy"),
        "Envoy in Kubernetes, production: JWT, rate limit, behind the Ingress, stats on 9902.",
        {"envoy.yaml": PRODUCTION},
    ),
    Target(
        Path("deploy/compose"),
        "Envoy in compose's production profile: TLS, JWT, rate limit, stats on 9902.",
        {"envoy-production.yaml": COMPOSE_PRODUCTION},
    ),
)


def _config_text(target: Target, options: EnvoyOptions) -> bytes:
    header = (
        "# Generated by tools/delivery/deploy_config.py from envoy.yaml. Do not edit.\n"
        f"# {target.about}\n"
    )
    return (header + yaml.safe_dump(envoy_config.render(options), sort_keys=False)).encode()


def rendered_files() -> dict[Path, bytes]:
    """Every generated file (relative to the repository) to its content."""
    files: dict[Path, bytes] = {}
    for target in TARGETS:
        for name, options in target.configs.items():
            files[target.directory / name] = _config_text(target, options)
        if target.assets:
            files[target.directory / DESCRIPTOR] = envoy_config.descriptor_path().read_bytes()
            files[target.directory / PAGE] = envoy_config.PAGE.read_bytes()
            files[target.directory / OPENAPI] = (envoy_config.PAGE.parent / OPENAPI).read_bytes()
    files.update(model_repository_files())
    return files


def stale_files(root: Path = ROOT) -> list[Path]:
    """The generated files that are missing or differ from what would be rendered."""
    return [
        path
        for path, content in rendered_files().items()
        if not (root / path).is_file() or (root / path).read_bytes() != content
    ]


def write(root: Path = ROOT) -> list[Path]:
    written = []
    for path, content in rendered_files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if any file is stale")
    parser.add_argument(
        "--output-dir", type=Path, help="write under this directory instead of the repository"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print(f"stale: {', '.join(map(str, stale))}; run `make deploy-config`")
            return 1
        print(f"{len(rendered_files())} generated deploy files are up to date")
        return 0
    written = write(args.output_dir or ROOT)
    print(f"wrote {len(written)} files under {args.output_dir or 'the repository'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
