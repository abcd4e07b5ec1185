"""Data shared by the model tests: the classic diabetes split."""

from __future__ import annotations

import pytest

from model.data import Split, load_split
from model.features import FEATURE_NAMES


@pytest.fixture(scope="session")
def bmi_split() -> Split:
    return load_split(("bmi",))


@pytest.fixture(scope="session")
def all_split() -> Split:
    return load_split(FEATURE_NAMES)
