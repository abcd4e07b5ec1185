"""`model/features.py` keeps the contract's feature list without importing generated code;
here the two are held together."""

from __future__ import annotations

from diabetes.v1 import prediction_pb2
from model.features import FEATURE_NAMES, RAW_UNITS, SCALED


def test_feature_names_are_the_contracts_record_fields_in_order():
    fields = [field.name for field in prediction_pb2.Record.DESCRIPTOR.fields]
    assert list(FEATURE_NAMES) == fields


def test_every_feature_has_a_raw_unit_and_none_is_called_scaled():
    assert set(RAW_UNITS) == set(FEATURE_NAMES)
    assert SCALED not in RAW_UNITS.values()
    assert RAW_UNITS["bmi"] == "kg/m2"
    assert RAW_UNITS["age"] == "years"
