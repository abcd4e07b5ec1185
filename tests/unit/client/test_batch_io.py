"""The command line's batch files: CSV and JSON lines in, CSV / JSON lines / JSON out."""

from __future__ import annotations

import io
import json
from array import array

import pytest

from diabetes_client.batch_io import InputFileError, ResultWriter, input_format_for, read_chunks
from diabetes_client.results import BatchPrediction


def chunks(text: str, input_format: str, size: int = 2):
    return list(read_chunks(iter(io.StringIO(text)), input_format, size))


def test_csv_is_read_in_chunks_of_columns():
    got = chunks("bp, bmi\n1,0.5\n\n2,-0.5\n3,1e-3\n", "csv")
    assert [c.count for c in got] == [1, 2]
    assert got[0].columns["bmi"].tolist() == [0.5]
    assert got[1].columns["bp"].tolist() == [2.0, 3.0]
    assert got[1].columns["bmi"].tolist() == [-0.5, 0.001]


def test_csv_with_one_column_and_quotes():
    [chunk] = chunks('"bmi"\n"0.25"\n0.5\n', "csv", 10)
    assert chunk.columns["bmi"].tolist() == [0.25, 0.5]


def test_jsonl_is_read_in_chunks_of_columns():
    lines = [{"bmi": 0.1, "bp": 1}, {"bp": 2, "bmi": 0.2}, {"bmi": 0.3, "bp": 3}]
    got = chunks("".join(json.dumps(r) + "\n" for r in lines), "jsonl")
    assert [c.count for c in got] == [2, 1]
    assert got[0].columns["bp"].tolist() == [1.0, 2.0]
    assert got[1].columns["bmi"].tolist() == [0.3]


@pytest.mark.parametrize(
    ("text", "input_format", "message"),
    [
        ("", "csv", "line 1: expected a header row"),
        ("bmi,bmi\n1,2\n", "csv", "a feature is named twice"),
        ("bmi\n1\n2\nx\n", "csv", "line 4, column bmi: 'x' is not a number"),
        ("bmi,bp\n1,2\n3,4\n5,6,7\n", "csv", "line 4: 3 values for 2 columns"),
        ("bmi\n1\ninf\n", "csv", "line 3, column bmi: inf is not a finite number"),
        ('[{"bmi": 1}]\n', "jsonl", "line 1: expected a JSON object"),
        ('{"bmi": true}\n', "jsonl", "line 1, bmi: true is not a finite number"),
        ('{"bmi": 1}\n\n{"bmi": 1, "sex": 2}\n', "jsonl", "line 3: has features"),
        ('{"age": 1, "height": 2}\n', "jsonl", "line 1: unknown feature(s) 'height'"),
    ],
)
def test_bad_input_names_the_line(text, input_format, message):
    with pytest.raises(InputFileError) as caught:
        chunks(text, input_format)
    assert message in str(caught.value)


def test_formats_from_names_and_content():
    assert input_format_for("x.CSV", "{") == "csv"
    assert input_format_for("x.ndjson", "bmi") == "jsonl"
    assert input_format_for("-", '  {"bmi": 1}') == "jsonl"
    assert input_format_for("-", "bmi,bp") == "csv"


def result(predictions, out_of_range=(), intervals=False) -> BatchPrediction:
    values = array("d", predictions)
    return BatchPrediction(
        predictions=values,
        model_version="v1",
        out_of_range_indices=array("q", out_of_range),
        lower=array("d", (v - 1 for v in values)) if intervals else None,
        upper=array("d", (v + 1 for v in values)) if intervals else None,
    )


def test_csv_output_is_exact_and_flags_out_of_range():
    stream = io.StringIO()
    writer = ResultWriter(stream, "csv", include_intervals=True)
    writer.write(result([0.1, 2.0], out_of_range=[1], intervals=True))
    writer.write(result([1 / 3], intervals=True))
    writer.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "prediction,lower,upper,out_of_range"
    assert lines[2] == "2.0,1.0,3.0,true"
    assert float(lines[3].split(",")[0]) == 1 / 3


def test_json_output_is_one_array_across_chunks():
    stream = io.StringIO()
    writer = ResultWriter(stream, "json", include_intervals=False)
    writer.write(result([1.5]))
    writer.write(result([2.5, 3.5], out_of_range=[0]))
    writer.close()
    rows = json.loads(stream.getvalue())
    assert rows == [
        {"prediction": 1.5, "out_of_range": False},
        {"prediction": 2.5, "out_of_range": True},
        {"prediction": 3.5, "out_of_range": False},
    ]


def test_jsonl_output_is_one_object_a_line():
    stream = io.StringIO()
    writer = ResultWriter(stream, "jsonl", include_intervals=True)
    writer.write(result([1.5], intervals=True))
    writer.close()
    assert json.loads(stream.getvalue()) == {
        "prediction": 1.5, "lower": 0.5, "upper": 2.5, "out_of_range": False,
    }  # fmt: skip
