#!/usr/bin/env bash
# Render every kustomization under deploy/ (base and overlays) and validate each rendered
# document offline against the Kubernetes schemas (kubernetes-validate --strict).
# Renderer: `kubectl kustomize`, else `kustomize build`; with neither, the base's resource files
# are validated one by one (overlays cannot be checked without a renderer) and a warning says so.
set -euo pipefail
cd "$(dirname "$0")/../.."

validate=${KUBERNETES_VALIDATE:-.venv/bin/kubernetes-validate}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

render() {
  if command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then
    kubectl kustomize "$1"
  elif command -v kustomize >/dev/null; then
    kustomize build "$1"
  else
    return 127
  fi
}

rendered=()
for dir in deploy/base deploy/overlays/*/; do
  dir=${dir%/}
  name=$(echo "$dir" | tr '/' '_')
  status=0
  render "$dir" >"$out/$name.yaml" || status=$?
  if [ "$status" -eq 127 ]; then
    echo "WARNING: no kustomize renderer (kubectl or kustomize); validating base files only" >&2
    rendered=()
    for file in deploy/base/*.yaml; do
      [ "$(basename "$file")" = kustomization.yaml ] || rendered+=("$file")
    done
    break
  elif [ "$status" -ne 0 ]; then
    echo "kustomize failed for $dir" >&2
    exit 1
  fi
  echo "rendered $dir ($(grep -c '^kind:' "$out/$name.yaml") resources)"
  rendered+=("$out/$name.yaml")
done

"$validate" --strict --quiet "${rendered[@]}"
echo "kubernetes-validate --strict: ${#rendered[@]} rendered file(s) valid"
