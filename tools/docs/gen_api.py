"""Generate `docs/api.md` from the contract's comments and a hand-written template.

`python -m tools.docs` (`make docs`) writes it, through `tools/docs/gen_docs.py`, which also
fills the template's generated sections (`<!-- generated:NAME -->`, e.g. the error tables).

The RPC and message reference comes from the descriptor set that `tools/gen_protos.py`
builds (`client/src/diabetes/v1/prediction_descriptor.pb`, with source comments), so it
cannot drift from the contract. The routes, examples and error table are written by hand in
`tools/docs/api_template.md`, where `{{rpcs}}` and `{{messages}}` mark the generated parts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTOR_SET = ROOT / "client" / "src" / "diabetes" / "v1" / "prediction_descriptor.pb"
PROTO = "diabetes/v1/prediction.proto"
TEMPLATE = Path(__file__).resolve().parent / "api_template.md"
OUTPUT = ROOT / "docs" / "api.md"

# FileDescriptorProto field numbers, for SourceCodeInfo paths.
MESSAGE_TYPE, SERVICE = 4, 6
MESSAGE_FIELD, NESTED_TYPE = 2, 3
SERVICE_METHOD = 2

FDP = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    FDP.TYPE_DOUBLE: "double",
    FDP.TYPE_FLOAT: "float",
    FDP.TYPE_INT32: "int32",
    FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT32: "uint32",
    FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes",
}
# How proto3 JSON (and so the transcoder) prints each type.
JSON_TYPES = {
    "double": "number",
    "float": "number",
    "int32": "number",
    "uint32": "number",
    "int64": "string (decimal)",
    "uint64": "string (decimal)",
    "bool": "true / false",
    "string": "string",
    "bytes": "string (base64)",
}


def load_file(path: Path = DESCRIPTOR_SET) -> descriptor_pb2.FileDescriptorProto:
    files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()).file
    for proto in files:
        if proto.name == PROTO:
            return proto
    raise SystemExit(f"{PROTO} is not in {path}; run `make gen`")


class Comments:
    """Leading comments by source path, as one paragraph each."""

    def __init__(self, proto: descriptor_pb2.FileDescriptorProto) -> None:
        self._by_path = {
            tuple(location.path): location.leading_comments
            for location in proto.source_code_info.location
            if location.leading_comments
        }

    def at(self, *path: int) -> str:
        text = self._by_path.get(tuple(path), "")
        return " ".join(line.strip() for line in text.strip().splitlines())


def _short(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1]


def _anchor(name: str) -> str:
    return name.lower()


def _map_entries(message: descriptor_pb2.DescriptorProto) -> dict[str, str]:
    """Nested map-entry types, as `map<key, value>` by their full-name suffix."""
    entries = {}
    for nested in message.nested_type:
        if nested.options.map_entry:
            key, value = nested.field
            entries[nested.name] = f"map<{_type(key, {})}, {_type(value, {})}>"
    return entries


def _type(field: descriptor_pb2.FieldDescriptorProto, maps: dict[str, str]) -> str:
    if field.type in SCALARS:
        return SCALARS[field.type]
    name = _short(field.type_name)
    if name in maps:
        return maps[name]
    return f"[{name}](#{_anchor(name)})"


def _json_type(field: descriptor_pb2.FieldDescriptorProto, maps: dict[str, str]) -> str:
    name = _short(field.type_name)
    if name in maps:
        return "object"
    base = JSON_TYPES[SCALARS[field.type]] if field.type in SCALARS else "object"
    return f"array of {base}" if field.label == FDP.LABEL_REPEATED else base


def _field_label(field: descriptor_pb2.FieldDescriptorProto, maps: dict[str, str]) -> str:
    kind = _type(field, maps)
    if not kind.startswith("["):
        kind = f"`{kind}`"
    if _short(field.type_name) in maps:
        return kind
    if field.label == FDP.LABEL_REPEATED:
        return f"repeated {kind}"
    if field.proto3_optional:
        return f"optional {kind}"
    return kind


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or " "


def _bindings(method: descriptor_pb2.MethodDescriptorProto) -> list[str]:
    if not method.options.HasExtension(annotations_pb2.http):
        return []
    rule: http_pb2.HttpRule = method.options.Extensions[annotations_pb2.http]
    rules = [rule, *rule.additional_bindings]
    out = []
    for one in rules:
        verb = one.WhichOneof("pattern")
        if verb is None or verb == "custom":
            continue
        path = getattr(one, verb)
        body = f", body `{one.body}`" if one.body else ""
        out.append(f"`{verb.upper()} {path}`{body}")
    return out


def render_rpcs(proto: descriptor_pb2.FileDescriptorProto, comments: Comments) -> str:
    lines: list[str] = []
    for s_index, service in enumerate(proto.service):
        full = f"{proto.package}.{service.name}"
        lines += [f"### Service `{full}`", "", comments.at(SERVICE, s_index), ""]
        lines += ["| RPC | Request | Response | JSON |", "|---|---|---|---|"]
        for method in service.method:
            request, response = _short(method.input_type), _short(method.output_type)
            stream = "stream " if method.server_streaming else ""
            lines.append(
                f"| [`{method.name}`](#rpc-{_anchor(method.name)}) "
                f"| [{request}](#{_anchor(request)}) "
                f"| {stream}[{response}](#{_anchor(response)}) "
                f"| {'<br>'.join(_bindings(method)) or 'gRPC only'} |"
            )
        lines.append("")
        for m_index, method in enumerate(service.method):
            request, response = _short(method.input_type), _short(method.output_type)
            stream = "stream " if method.server_streaming else ""
            lines += [
                f'<a id="rpc-{_anchor(method.name)}"></a>',
                f"#### `{method.name}`",
                "",
                f"`rpc {method.name}({request}) returns ({stream}{response})`",
                "",
                comments.at(SERVICE, s_index, SERVICE_METHOD, m_index),
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def _messages(
    proto: descriptor_pb2.FileDescriptorProto,
) -> Iterable[tuple[descriptor_pb2.DescriptorProto, tuple[int, ...]]]:
    for index, message in enumerate(proto.message_type):
        yield message, (MESSAGE_TYPE, index)


def render_messages(proto: descriptor_pb2.FileDescriptorProto, comments: Comments) -> str:
    lines: list[str] = []
    for message, path in _messages(proto):
        maps = _map_entries(message)
        lines += [f"### {message.name}", ""]
        description = comments.at(*path)
        if description:
            lines += [description, ""]
        if not message.field:
            lines += ["No fields.", ""]
            continue
        lines += ["| Field | Type | JSON | Description |", "|---|---|---|---|"]
        for f_index, field in enumerate(message.field):
            note = comments.at(*path, MESSAGE_FIELD, f_index)
            lines.append(
                f"| `{field.name}` | {_field_label(field, maps)} | {_json_type(field, maps)} "
                f"| {_cell(note)} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render(template: str, proto: descriptor_pb2.FileDescriptorProto) -> str:
    comments = Comments(proto)
    for marker in ("{{rpcs}}", "{{messages}}"):
        if template.count(marker) != 1:
            raise SystemExit(f"{TEMPLATE.name} must hold {marker} exactly once")
    header = (
        "<!-- Generated by tools/docs/gen_api.py from protos/diabetes/v1/prediction.proto and "
        "tools/docs/api_template.md. Do not edit: change those and run `make docs`. -->\n"
    )
    body = template.replace("{{rpcs}}", render_rpcs(proto, comments).rstrip())
    body = body.replace("{{messages}}", render_messages(proto, comments).rstrip())
    return header + body
