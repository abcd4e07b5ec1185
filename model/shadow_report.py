"""`diabetes-models report`: a model's shadow and canary comparisons, read from the
servers' Prometheus endpoints (`--metrics-port`, GET /metrics; the parent of `--workers N`
serves its workers' sum) and added up across servers: records compared, mean and largest
|candidate - stable|, the share beyond stable's interval, the features whose contributions
moved most, and the largest differences with their inputs. Everything is derived from the
`diabetes_shadow_*` metrics; nothing else is served.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

WORST_SHOWN = 20
_LABELS = ("role", "version", "reference")
TIMEOUT_SECONDS = 10.0


class ReportError(RuntimeError):
    """A server's metrics could not be read; the message names the URL."""


@dataclass
class Comparison:
    """One candidate beside one reference, across every server read."""

    role: str
    version: str
    reference: str
    compared: int = 0
    beyond: int = 0
    abs_sum: float = 0.0
    max_abs_diff: float = 0.0
    moved: dict[str, float] = field(default_factory=dict)
    worst: list[dict[str, Any]] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        compared = self.compared
        worst = sorted(self.worst, key=lambda e: -abs(e["prediction"] - e["stable_prediction"]))
        return {
            "role": self.role,
            "version": self.version,
            "stable": self.reference,
            "compared": compared,
            "beyond_interval": self.beyond,
            "mean_abs_diff": self.abs_sum / compared if compared else 0.0,
            "max_abs_diff": self.max_abs_diff,
            "beyond_interval_share": self.beyond / compared if compared else 0.0,
            "moved_most": {
                feature: total / compared if compared else 0.0
                for feature, total in sorted(self.moved.items(), key=lambda kv: -kv[1])
            },
            "worst": worst[:WORST_SHOWN],
        }


def read_metrics(url: str) -> str:
    """The text a metrics endpoint serves (`URL` or `URL/metrics`)."""
    target = url if url.rstrip("/").endswith("/metrics") else url.rstrip("/") + "/metrics"
    try:
        with urllib.request.urlopen(target, timeout=TIMEOUT_SECONDS) as reply:
            text: str = reply.read().decode("utf-8")
            return text
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {target}: {exc}") from exc


def comparisons(model: str, texts: Iterable[str]) -> list[Comparison]:
    """Every comparison of `model` in the metrics texts (one text per server), added up."""
    found: dict[tuple[str, str, str], Comparison] = {}
    for server, text in enumerate(texts):
        examples: dict[tuple[tuple[str, str, str], str], dict[str, Any]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if labels.get("model") != model or "role" not in labels:
                    continue
                key = (labels["role"], labels["version"], labels["reference"])
                entry = found.setdefault(key, Comparison(*key))
                _add(entry, sample.name, labels, float(sample.value), examples, server)
        for (key, _), example in examples.items():
            found[key].worst.append(example)
    return sorted(found.values(), key=lambda c: (c.role, c.version, c.reference))


def _add(
    entry: Comparison,
    name: str,
    labels: dict[str, str],
    value: float,
    examples: dict[tuple[tuple[str, str, str], str], dict[str, Any]],
    server: int,
) -> None:
    if name == "diabetes_shadow_compared_total":
        entry.compared += int(value)
    elif name == "diabetes_shadow_beyond_interval_total":
        entry.beyond += int(value)
    elif name == "diabetes_shadow_abs_diff_total":
        entry.abs_sum += value
    elif name == "diabetes_shadow_max_abs_diff":
        entry.max_abs_diff = max(entry.max_abs_diff, value)
    elif name == "diabetes_shadow_contribution_abs_diff_total":
        feature = labels["feature"]
        entry.moved[feature] = entry.moved.get(feature, 0.0) + value
    elif name == "diabetes_shadow_worst":
        key = (entry.role, entry.version, entry.reference)
        example = examples.setdefault(
            (key, f"{server}:{labels['rank']}"),
            {"inputs": {}, "prediction": 0.0, "stable_prediction": 0.0},
        )
        field_name = labels["field"]
        if field_name == "prediction":
            example["prediction"] = value
        elif field_name == "reference_prediction":
            example["stable_prediction"] = value
        else:
            example["inputs"][field_name] = value


def report(model: str, servers: Sequence[str], version: str = "") -> list[dict[str, Any]]:
    """The report's documents: every comparison of `model` (of `version` only, if given)."""
    found = comparisons(model, [read_metrics(url) for url in servers])
    return [c.document() for c in found if not version or c.version == version]


def render(model: str, documents: Sequence[dict[str, Any]]) -> str:
    """The report as text for a terminal."""
    if not documents:
        return f"{model}: no shadow or canary comparisons on these servers yet"
    lines = []
    for document in documents:
        lines.append(
            f"{model} {document['role']} {document['version']} vs stable {document['stable']}"
        )
        for key in (
            "compared",
            "mean_abs_diff",
            "max_abs_diff",
            "beyond_interval_share",
            "beyond_interval",
        ):
            value = document[key]
            lines.append(
                f"  {key:<22} {value:g}" if isinstance(value, float) else f"  {key:<22} {value}"
            )
        moved = ", ".join(f"{f} {v:.3g}" for f, v in list(document["moved_most"].items())[:5])
        lines.append(f"  {'moved_most':<22} {moved or '-'}")
        lines.append(
            f"  worst ({len(document['worst'])}): |diff|  inputs  {document['role']}  stable"
        )
        for example in document["worst"]:
            inputs = " ".join(f"{k}={v:g}" for k, v in example["inputs"].items())
            diff = abs(example["prediction"] - example["stable_prediction"])
            lines.append(
                f"    {diff:10.3f}  {inputs}  {example['prediction']:.3f}  "
                f"{example['stable_prediction']:.3f}"
            )
    return "\n".join(lines)
