"""Generate the Python gRPC code and Envoy's descriptor set from `protos/`.

    python tools/gen_protos.py          # write the generated files
    python tools/gen_protos.py --check  # exit 1 if the committed files are stale

The generated package `diabetes` is written into the client's distribution
(`client/src/diabetes/`), the one copy: the client imports it, and the service depends on
the client's distribution for it. Vendored protocols (`VENDORED`) are generated into it too,
under a subpackage of their own, without being copied into `protos/`. It is never edited by
hand.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUTPUT_PACKAGE = "diabetes"
# Where the package is written: the client distribution's source root.
OUTPUT_ROOT = ROOT / "client" / "src"
# Where earlier versions wrote it: a copy left there would shadow the real one.
FORMER_COPIES = (ROOT / OUTPUT_PACKAGE,)
DESCRIPTOR_NAME = "prediction_descriptor.pb"
# Vendored .proto files generated beside ours: source -> path inside the generated package.
VENDORED = {
    ROOT
    / "third_party"
    / "open-inference-protocol"
    / "open_inference_grpc.proto": f"{OUTPUT_PACKAGE}/inference/open_inference_grpc.proto",
}
PACKAGE_INIT = '"""Code generated from protos/ by tools/gen_protos.py. Do not edit."""\n'


def _include_paths() -> list[str]:
    """protoc include paths: ours, grpc_tools' well-known types, googleapis' google/api."""
    import google.api  # googleapis-common-protos

    grpc_tools_include = resources.files("grpc_tools") / "_proto"
    googleapis_root = Path(next(iter(google.api.__path__))).parent.parent
    return [str(PROTO_ROOT), str(grpc_tools_include), str(googleapis_root)]


def generate(out_dir: Path) -> None:
    protos = sorted(p.relative_to(PROTO_ROOT).as_posix() for p in PROTO_ROOT.rglob("*.proto"))
    descriptor = out_dir / OUTPUT_PACKAGE / "v1" / DESCRIPTOR_NAME
    descriptor.parent.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        *(f"-I{path}" for path in _include_paths()),
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        "--include_imports",
        "--include_source_info",
        f"--descriptor_set_out={descriptor}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    _generate_vendored(out_dir)
    package_root = out_dir / OUTPUT_PACKAGE
    for package_dir in [package_root, *(p for p in package_root.rglob("*") if p.is_dir())]:
        (package_dir / "__init__.py").write_text(PACKAGE_INIT)


def _generate_vendored(out_dir: Path) -> None:
    """Stage each vendored file at its place in the generated package, so its code imports
    as `diabetes.<subpackage>` (its proto package is unchanged); no descriptor set for it."""
    with tempfile.TemporaryDirectory() as staging:
        stage = Path(staging)
        for source, target in VENDORED.items():
            (stage / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, stage / target)
        args = [
            "protoc",
            f"-I{stage}",
            *(f"-I{path}" for path in _include_paths()[1:]),
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            *VENDORED.values(),
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed on the vendored protos")


def _tree(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if generated files are stale")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        target = OUTPUT_ROOT / OUTPUT_PACKAGE
        if args.check:
            fresh_pkg = fresh / OUTPUT_PACKAGE
            names = _tree(fresh_pkg) | (_tree(target) if target.exists() else set())
            stale = sorted(
                n
                for n in names
                if not (target / n).exists()
                or not (fresh_pkg / n).exists()
                or not filecmp.cmp(fresh_pkg / n, target / n, shallow=False)
            )
            stale += [str(p.relative_to(ROOT)) for p in FORMER_COPIES if p.exists() and _tree(p)]
            if stale:
                print("stale; run `make gen`:", *stale, sep="\n  ", file=sys.stderr)
                return 1
            print("generated code is fresh")
            return 0
        for old in (target, *FORMER_COPIES):
            if old.exists():
                shutil.rmtree(old)
        shutil.copytree(fresh / OUTPUT_PACKAGE, target)
        print(f"wrote {target.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
