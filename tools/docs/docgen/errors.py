"""Every error a caller can get: one list, rendered into docs/api.md and iterated by the tests.

`tests/docs/test_api_errors.py` sends each entry's `request` to a running stack and checks the
reply; an entry without one names the test that triggers it (`checked_by`). The same test
module fails when the server's validation or Envoy's local replies can produce a message no
entry matches. A message ending in `...` is a prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.docs.docgen.tables import table

GRPC_CODES = {
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    16: "UNAUTHENTICATED",
}
ROUTES = "(routes: POST /stream, POST /batch, POST /batch/columns, GET /model)"
BATCH_ARRAY = (
    'the body of POST /batch must be a JSON array of records, e.g. [{"bmi": 0.05}]; got {got}; '
    "for one record use POST /stream"
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: str | None = None


@dataclass(frozen=True)
class Error:
    case: str
    status: int  # HTTP status; 0 = gRPC only
    code: int  # gRPC status code
    message: str  # exact, or a prefix when it ends with "..."
    request: Request | None = None  # a JSON call to the local stack that gets it
    checked_by: str = ""  # otherwise: "tests/path.py::test_name", which triggers it

    @property
    def prefix(self) -> str:
        return self.message.removesuffix("...")


def _post(path: str, body: str | None = None) -> Request:
    return Request("POST", path, body)


ERRORS = (
    Error(
        "Malformed JSON",
        400,
        3,
        "the body of POST /stream is not valid JSON: Input data was truncated",
        _post("/stream", '{"bmi": '),
    ),
    Error(
        "Malformed JSON in a batch",
        400,
        3,
        "the body of POST /batch is not valid JSON: Input data was truncated",
        _post("/batch", '[{"bmi": 0.1}'),
    ),
    Error(
        "Not a number",
        400,
        3,
        'record.bmi: expected a number, got "abc"',
        _post("/stream", '{"bmi": "abc"}'),
    ),
    Error(
        "Not a number in a batch",
        400,
        3,
        "records[1].bmi: expected a number, got true",
        _post("/batch", '[{"bmi": 0.1}, {"bmi": true}]'),
    ),
    Error(
        "Number as a string in a batch",
        400,
        3,
        'records[0].bmi: expected a number, got "0.05"',
        _post("/batch", '[{"bmi": "0.05"}]'),
    ),
    Error(
        "Feature missing",
        400,
        3,
        "record.bmi is missing; this model needs bmi",
        _post("/stream", "{}"),
    ),
    Error(
        "Feature `null`",
        400,
        3,
        "record.bmi is null; this model needs bmi",
        _post("/stream", '{"bmi": null}'),
    ),
    Error(
        "Feature name misspelled",
        400,
        3,
        'record: unknown field "bmii"; the fields are age, sex, bmi, bp, s1, s2, s3, s4, s5, s6',
        _post("/stream", '{"bmii": 0.05}'),
    ),
    Error(
        "Feature missing in a batch",
        400,
        3,
        "records[1].bmi is missing; this model needs bmi",
        _post("/batch", '[{"bmi": 0.1}, {}]'),
    ),
    Error(
        "Feature `null` in a batch",
        400,
        3,
        "records[1].bmi is null; this model needs bmi",
        _post("/batch", '[{"bmi": 0.1}, {"bmi": null}]'),
    ),
    Error(
        "Unknown field in a batch",
        400,
        3,
        'records[1]: unknown field "BMI"; the fields are age, sex, bmi, bp, s1, s2, s3, s4, s5, s6',
        _post("/batch", '[{"bmi": 0.1}, {"BMI": 0.1}]'),
    ),
    Error(
        "Number as a string",
        400,
        3,
        'record.bmi: expected a number, got "NaN"',
        _post("/stream", '{"bmi": "NaN"}'),
    ),
    Error(
        "Not finite (gRPC; JSON has no such numbers)",
        0,
        3,
        "record.bmi must be a finite number, got nan",
        checked_by="tests/integration/test_validation.py::test_predict_rejects",
    ),
    Error(
        "Out of range in a batch",
        400,
        3,
        "records[1].bmi: expected a finite number, got one out of range "
        "(the largest is about 1.8e308)",
        _post("/batch", '[{"bmi": 0}, {"bmi": 1e999}]'),
    ),
    Error(
        "Too large for a finite answer in a batch",
        400,
        3,
        "records[0].bmi: 1.7e+308 is too large for a finite prediction and interval "
        "(this model takes values between -3.28e+153 and 3.28e+153)",
        _post("/batch", '[{"bmi": 1.7e308}]'),
    ),
    Error(
        "Too large for a finite answer",
        400,
        3,
        "record.bmi: 1e+308 is too large for a finite prediction and interval "
        "(this model takes values between -3.28e+153 and 3.28e+153)",
        _post("/stream", '{"bmi": 1e308}'),
    ),
    Error(
        "Out of range",
        400,
        3,
        "record.bmi: expected a finite number, got one out of range (the largest is about 1.8e308)",
        _post("/stream", '{"bmi": 1e999}'),
    ),
    Error(
        "Array sent to `/stream`",
        400,
        3,
        'the body of POST /stream must be a JSON record, e.g. {"bmi": 0.05}; got an array',
        _post("/stream", '[{"bmi": 0.05}]'),
    ),
    Error(
        "Object sent to `/batch`",
        400,
        3,
        BATCH_ARRAY.replace("{got}", "an object"),
        _post("/batch", '{"bmi": 0.05}'),
    ),
    Error(
        "Record not an object",
        400,
        3,
        "records[0]: expected an object, got 0.05",
        _post("/batch", "[0.05]"),
    ),
    Error(
        "Array where a number goes (any size or depth: named, not quoted)",
        400,
        3,
        "record.bmi: expected a number, got an array",
        _post("/stream", '{"bmi": [[0.1, 0.2]]}'),
    ),
    Error(
        "Nested arrays for a batch (any depth)",
        400,
        3,
        "records[0]: expected an object, got an array",
        _post("/batch", "[[[[[["),
    ),
    Error(
        "A long value or name (quoted at most 40 or 64 characters)",
        400,
        3,
        'record.bmi: expected a number, got "0.1000000000000000000000000000000000...',
        _post("/stream", '{"bmi": "0.10000000000000000000000000000000000000000000000000"}'),
    ),
    Error(
        "Empty body to `/batch`",
        400,
        3,
        "the body of POST /batch must be a JSON array of records, "
        'e.g. [{"bmi": 0.05}]; got an empty body',
        _post("/batch"),
    ),
    Error(
        "Empty batch", 400, 3, "records is empty: send at least one record", _post("/batch", "[]")
    ),
    Error(
        "Empty columns",
        400,
        3,
        "columns is empty: send at least one record",
        _post("/batch/columns", "{}"),
    ),
    Error(
        "Column missing",
        400,
        3,
        "columns.bmi is missing; this model needs bmi",
        _post("/batch/columns", '{"bp": [0.1]}'),
    ),
    Error(
        "`null` in a column",
        400,
        3,
        "columns.bmi[1]: expected a number, got null",
        _post("/batch/columns", '{"bmi": [0.1, null]}'),
    ),
    Error(
        "Unknown query parameter on a batch",
        400,
        3,
        'Could not find field "intervals" in the type "diabetes.v1.PredictJsonRecordsRequest".',
        _post("/batch?intervals=true", '[{"bmi": 0.05}]'),
    ),
    Error(
        "Unknown query parameter",
        400,
        3,
        'Could not find field "bmx" in the type "diabetes.v1.PredictJsonRecordRequest".',
        _post("/stream?bmx=1", '{"bmi": 0.05}'),
    ),
    Error(
        "Unknown model (`?model=`, gRPC `model`)",
        404,
        5,
        'no model "nope"; this server serves "diabetes-bmi", "diabetes-bmi-raw"',
        _post("/stream?model=nope", '{"bmi": 0.05}'),
    ),
    Error(
        "Model name not a valid name (`?model=`, gRPC `model`; at most 64 characters quoted)",
        400,
        3,
        'model name "../x" is not valid: expected a letter or digit, then up to 63 letters, '
        "digits, '.', '_' or '-' (the pattern [A-Za-z0-9][A-Za-z0-9._-]{0,63})",
        _post("/stream?model=../x", '{"bmi": 0.05}'),
    ),
    Error(
        "Version not a valid name (`?version=`, gRPC `version`)",
        400,
        3,
        'model version "v 1" is not valid: expected ...',
        _post("/stream?version=v%201", '{"bmi": 0.05}'),
    ),
    Error(
        "Unknown version (`?version=`, gRPC `version`)",
        404,
        5,
        'model "diabetes-bmi" has no version "v9"; its versions are ...',
        _post("/stream?version=v9", '{"bmi": 0.05}'),
    ),
    Error(
        "`?version=canary` when the model has no canary",
        404,
        5,
        'model "diabetes-bmi" has no canary; its versions are ...',
        _post("/stream?version=canary", '{"bmi": 0.05}'),
    ),
    Error("Unknown route", 404, 5, f"no such route: GET /nope {ROUTES}", Request("GET", "/nope")),
    Error(
        "Wrong method", 404, 5, f"no such route: GET /stream {ROUTES}", Request("GET", "/stream")
    ),
    Error(
        "More than 100,000 records on `/batch` (objects counted before decoding)",
        400,
        3,
        "the body holds more than 100000 records: over the limit of 100000 records per call; "
        "split it into several calls",
        checked_by="tests/e2e/test_json_api.py::test_bad_input_gets_a_clear_json_error",
    ),
    Error(
        "More than 100,000 values in one column (counted before decoding)",
        400,
        3,
        "columns.bmi holds more than 100000 values: over the limit of 100000 records per call; "
        "split it into several calls",
        checked_by="tests/abuse/test_body_bounds.py::test_a_hostile_body_is_refused_within_the_bound",
    ),
    Error(
        "More than 100,000 records in columns or over gRPC",
        400,
        3,
        "batch of 100001 records is over the limit of 100000 records per call; "
        "split it into several calls",
        checked_by="tests/integration/test_validation.py::test_batch_rejects_before_any_reply",
    ),
    Error(
        "More than 100,000 records on the gRPC wire (counted before the parse)",
        0,
        3,
        "batch of more than 100000 records is over the limit of 100000 records per call; "
        "split it into several calls",
        checked_by="tests/abuse/test_wire_bounds.py::"
        "test_millions_of_empty_records_are_refused_before_the_parse",
    ),
    Error(
        "A request over its method's size cap (methods without bulk: 16 KiB)",
        400,
        3,
        "grpc.health.v1.Health/Check takes requests of at most 16384 bytes; this one has ...",
        checked_by="tests/abuse/test_wire_bounds.py::"
        "test_concurrent_huge_health_checks_are_refused_unparsed",
    ),
    Error(
        "A V2 gRPC infer tensor too big to parse (more than 8 dimensions, 64 parameters or "
        "1,000,000 values)",
        0,
        3,
        "inputs[0]: shape has more than 8 dimensions; this server takes no larger tensors",
        checked_by="tests/abuse/test_wire_bounds.py::"
        "test_model_infer_tensors_too_big_to_parse_are_refused_before_the_parse",
    ),
    Error(
        "More than 64 tensors in one V2 gRPC infer call",
        0,
        3,
        "more than 64 tensors is over the limit of 64 tensors per call",
        checked_by="tests/abuse/test_wire_bounds.py::"
        "test_model_infer_with_too_many_tensors_is_refused_before_the_parse",
    ),
    Error(
        "A server at capacity: its memory budget taken (retry: trailing metadata "
        "`retry-after: 1`, `grpc-retry-pushback-ms: 1000`)",
        0,
        8,
        "diabetes.v1.PredictionService/PredictBatch: a request of this size may take ...",
        checked_by="tests/abuse/test_wire_bounds.py::"
        "test_concurrent_maximal_batches_over_a_small_budget_are_refused_retryably",
    ),
    Error(
        "A server at capacity: every bulk (or prediction) place taken, refused unread",
        0,
        8,
        "diabetes.v1.PredictionService/PredictBatch: this server is handling 1 bulk calls, "
        "its most at once; retry in 1 s (another server may take it now)",
        checked_by="tests/unit/server/test_call_gate.py::"
        "test_a_bulk_call_over_the_limit_is_refused_unread_and_the_place_comes_back",
    ),
    Error(
        "Columns of different lengths (gRPC; JSON only with a multi-feature model)",
        400,
        3,
        "columns.bp has 1 values but columns.bmi has 2; every column needs one value per record",
        checked_by="tests/integration/test_validation.py::test_batch_rejects_before_any_reply",
    ),
    Error(
        "Feature missing in several records (gRPC; JSON names the first)",
        0,
        3,
        "records[1].bmi is missing (and 2 more records); this model needs bmi",
        checked_by="tests/unit/server/test_validation.py::test_several_records_missing_a_feature_are_counted",
    ),
    Error(
        "Not finite in a batch (gRPC; JSON has no such numbers)",
        0,
        3,
        "records[1].bp must be a finite number, got nan",
        checked_by="tests/unit/server/test_validation.py::test_a_non_finite_value_in_a_record_names_its_index",
    ),
    Error(
        "Not finite in a column (gRPC)",
        0,
        3,
        "columns.bp[2] must be a finite number, got -inf",
        checked_by="tests/unit/server/test_validation.py::test_a_non_finite_value_in_a_column_names_its_index",
    ),
    Error(
        "Records and columns both set (gRPC only)",
        0,
        3,
        "set either records or columns, not both",
        checked_by="tests/integration/test_validation.py::test_batch_rejects_before_any_reply",
    ),
    Error(
        "V2 REST `data` holds more values than `shape` (counted before decoding); "
        'as `{"error": message}`',
        400,
        3,
        "inputs[0] (bmi): shape [1] needs 1 values, data holds more",
        checked_by="tests/abuse/test_body_bounds.py::test_a_hostile_body_is_refused_within_the_bound",
    ),
    Error(
        "V2 REST body nested thousands deep",
        400,
        3,
        "the body is not a V2 inference request: it nests arrays or objects too deeply",
        checked_by="tests/abuse/test_body_bounds.py::test_a_hostile_body_is_refused_within_the_bound",
    ),
    Error(
        "V2 REST `Inference-Header-Content-Length` not 1-10 ASCII digits within the body",
        400,
        3,
        "inference-header-content-length is '...",
        checked_by="tests/abuse/test_body_bounds.py::test_an_odd_binary_header_is_400_naming_it",
    ),
    Error(
        "V2 REST JSON with more than 1,024 objects and keys",
        400,
        3,
        "the body is not a V2 inference request this server takes: it holds more than 1024 "
        "objects and keys (inputs, outputs, parameters); tensor values go in data",
        checked_by="tests/unit/server/test_v2_rest_decoding.py::test_a_bad_body_is_refused_before_its_values_are_built",
    ),
    Error(
        "V2 shape of more than 8 dimensions (REST and gRPC)",
        400,
        3,
        "inputs[0] (x): shape has 9 dimensions; at most 8",
        checked_by="tests/unit/server/test_v2_rest_decoding.py::test_a_bad_body_is_refused_before_its_values_are_built",
    ),
    Error(
        "V2 request `id` over 1,024 characters (REST and gRPC)",
        400,
        3,
        "id is 1025 characters long; at most 1024: ...",
        checked_by="tests/unit/server/test_v2_rest_decoding.py::test_an_id_longer_than_1024_characters_is_refused",
    ),
    Error(
        "V2 REST shape over 256 bytes of JSON",
        400,
        3,
        "inputs[0] (x): shape is 600 bytes of JSON; a shape is a short array of integers",
        checked_by="tests/unit/server/test_v2_rest_decoding.py::test_a_bad_body_is_refused_before_its_values_are_built",
    ),
    Error(
        "JSON body over 32 MiB",
        413,
        8,
        "request body too large: Payload Too Large",
        checked_by="tests/e2e/test_json_api.py::test_body_over_the_size_limit_is_413_json",
    ),
    Error(
        "Request headers over 16 KiB, the URL included (e.g. a 20,000-character `?model=`)",
        431,
        3,
        "request headers over 16 KiB (the URL included): Request Header Fields Too Large",
        checked_by="tests/ops/test_bad_files_and_names.py::"
        "test_a_name_that_is_not_valid_is_invalid_argument_through_envoy",
    ),
    Error(
        "Body over 16 KiB on a JSON route that takes no bulk (`POST /stream`, `GET /model`, "
        'the `/v2` metadata, ready and live routes, where the body is `{"error": ...}`), '
        "refused by Envoy before a server sees it",
        413,
        8,
        "request body too large: Payload Too Large",
        checked_by="tests/ops/test_edge_bounds.py::"
        "test_routes_that_take_no_bulk_refuse_a_body_over_their_cap_before_a_server_sees_it",
    ),
    Error(
        "gRPC request over 16 KiB to a method that takes no bulk (health, `Predict`, "
        "`GetModelInfo`, the OIP metadata, ready and live methods), refused by Envoy",
        0,
        3,
        "request body too large for this method: Payload Too Large",
        checked_by="tests/delivery/test_production_envoy.py::"
        "test_the_token_free_health_route_refuses_a_body_over_its_cap_at_envoy",
    ),
    Error(
        "Every server over its memory budget (Envoy retried the call on other hosts first; "
        'gRPC: `RESOURCE_EXHAUSTED`; `/v2`: `{"error": ...}`)',
        503,
        8,
        "METHOD: a request of this size may take N MiB and this server has N MiB of its N MiB "
        "budget free; retry in 1 s (another server may take it now)",
        checked_by="tests/ops/test_edge_bounds.py::"
        "test_when_no_host_can_take_a_call_json_gets_503_with_retry_after",
    ),
    Error(
        "Envoy short of memory (heap past 90% of its cap): an HTTP/1.1 request is cut and "
        "the connection closed",
        503,
        14,
        "service unavailable: Envoy is short of memory; retry shortly",
        checked_by="tests/ops/test_envoy_config.py::"
        "test_envoy_refuses_an_http1_upload_once_the_heap_passes_the_threshold",
    ),
    Error(
        "gRPC message over 33 MiB",
        429,
        8,
        "SERVER: Received message larger than max (35651594 vs. 34603008)",
        checked_by="tests/integration/test_validation.py::test_oversized_message_is_refused_cleanly",
    ),
    Error(
        "Over the per-caller rate limit (when enabled; requests, or body bytes)",
        429,
        8,
        "rate limited: local_rate_limited",
        checked_by="tests/ops/test_public_exposure.py::test_per_client_rate_limit_gives_429_json",
    ),
    Error(
        "No or invalid token (when JWT is enabled)",
        401,
        16,
        "Jwt is missing...",
        checked_by="tests/ops/test_public_exposure.py::TestJwt::test_missing_token_gets_401_json",
    ),
    Error(
        "Token for another audience (when JWT is enabled)",
        403,
        7,
        "Audiences in Jwt are not allowed",
        checked_by="tests/ops/test_public_exposure.py::TestJwt::test_token_for_another_audience_is_forbidden",
    ),
    Error(
        "No server is up",
        503,
        14,
        "service unavailable: upstream connect error or disconnect/reset before headers...",
        checked_by="tests/e2e/test_grpc_through_envoy.py::test_upstream_down_is_503_json",
    ),
    Error(
        "The server does not answer within the route timeout",
        504,
        4,
        "upstream timed out: upstream request timeout",
        checked_by="tests/docs/test_api_errors.py::test_a_silent_server_is_504_json",
    ),
    Error(
        "A bug in the server (never expected)",
        500,
        13,
        "internal error",
        checked_by="tests/ops/test_fuzz.py::test_hypothesis_json_bodies_through_envoy_never_get_a_5xx",
    ),
)


def _message(error: Error) -> str:
    return error.message.replace("|", "\\|")


def render_requests() -> str:
    rows = []
    for error in ERRORS:
        if error.request is None:
            continue
        request = f"`{error.request.method} {error.request.path}`"
        if error.request.body is not None:
            request += f" `{error.request.body}`"
        rows.append(
            [
                error.case,
                request,
                str(error.status),
                f"{error.code} {GRPC_CODES[error.code]}",
                _message(error),
            ]
        )
    return table(["Case", "Request", "HTTP", "gRPC code", "`message`"], rows)


def render_others() -> str:
    rows = []
    for error in ERRORS:
        if error.request is not None:
            continue
        status = str(error.status) if error.status else "—"
        if (error.status == 429 and "rate" in error.message) or (
            error.status == 503 and error.code in (8, 14) and "upstream" not in error.message
        ):
            status += ", `retry-after: 1`"
        test = error.checked_by.split("::")[0]
        rows.append(
            [
                error.case,
                status,
                f"{error.code} {GRPC_CODES[error.code]}",
                _message(error),
                f"`{test}`",
            ]
        )
    return table(["Case", "HTTP", "gRPC code", "`message`", "Checked by"], rows)
