"""Write the OpenAPI 3.1 description of every public JSON route (`web/openapi.json`, served
by Envoy at `GET /openapi.json`), from the contract itself:

- the routes, path and query parameters, summaries and descriptions: the `google.api.http`
  bindings and comments in the descriptor set `tools/gen_protos.py` writes (what Envoy's
  transcoder serves);
- the bodies: the messages' JSON mapping as Envoy prints it (field names as in the proto,
  primitive fields always printed, 64-bit integers as strings); for RPCs whose body is a
  `google.api.HttpBody` (the server writes the JSON itself), the msgspec types the server
  decodes and encodes with (`server.faces.oip_rest.JSON_BODIES`).

`python -m tools.docs` (`make docs`) writes it; `--check` fails when it is stale.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from server.faces import oip_rest
from tools.docs.gen_api import DESCRIPTOR_SET

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "web" / "openapi.json"
HTTP_BODY = ".google.api.HttpBody"
REF = "#/components/schemas/{name}"
# RPCs answered with HttpBody whose JSON bodies the server's msgspec types describe.
JSON_BODIES = {
    f"{oip_rest.SERVICE_NAME}.{rpc}": bodies for rpc, bodies in oip_rest.JSON_BODIES.items()
}
# What a failed call looks like: the transcoder's status object, or the V2 error object.
STATUS_ERROR = "Status"
V2_ERROR = "ErrorResponse"
V2_SERVICES = {oip_rest.SERVICE_NAME}

_FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS: dict[int, dict[str, Any]] = {
    _FDP.TYPE_FLOAT: {"type": "number"},
    _FDP.TYPE_INT32: {"type": "integer", "format": "int32"},
    _FDP.TYPE_SINT32: {"type": "integer", "format": "int32"},
    _FDP.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    _FDP.TYPE_UINT32: {"type": "integer", "format": "int32", "minimum": 0},
    _FDP.TYPE_FIXED32: {"type": "integer", "format": "int32", "minimum": 0},
    _FDP.TYPE_INT64: {"type": "string", "format": "int64"},
    _FDP.TYPE_SINT64: {"type": "string", "format": "int64"},
    _FDP.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    _FDP.TYPE_UINT64: {"type": "string", "format": "uint64"},
    _FDP.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    _FDP.TYPE_BOOL: {"type": "boolean"},
    _FDP.TYPE_STRING: {"type": "string"},
    _FDP.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
# A double as the transcoder prints one: a number, or one of proto3 JSON's names for the
# values JSON lacks. Requests document numbers only (the service refuses the others).
_DOUBLE_OUT = {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}


class Contract:
    """The descriptor set: messages and enums by full name, comments by element path."""

    def __init__(self, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
        self.files = files
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[str, str] = {}
        for file in files:
            prefix = f".{file.package}" if file.package else ""
            for location in file.source_code_info.location:
                if location.leading_comments:
                    key = f"{file.name}:{','.join(map(str, location.path))}"
                    self.comments[key] = _comment(location.leading_comments)
            for index, message in enumerate(file.message_type):
                self._add_message(file, f"{prefix}.{message.name}", message, [4, index])
            for enum in file.enum_type:
                self.enums[f"{prefix}.{enum.name}"] = enum

    def _add_message(
        self,
        file: descriptor_pb2.FileDescriptorProto,
        name: str,
        message: descriptor_pb2.DescriptorProto,
        path: list[int],
    ) -> None:
        self.messages[name] = message
        self.comments.setdefault(f"@{name}", self.comment(file, path))
        for index, field in enumerate(message.field):
            self.comments[f"@{name}.{field.name}"] = self.comment(file, [*path, 2, index])
        for index, nested in enumerate(message.nested_type):
            self._add_message(file, f"{name}.{nested.name}", nested, [*path, 3, index])
        for enum in message.enum_type:
            self.enums[f"{name}.{enum.name}"] = enum

    def comment(self, file: descriptor_pb2.FileDescriptorProto, path: list[int]) -> str:
        return self.comments.get(f"{file.name}:{','.join(map(str, path))}", "")


def _comment(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines())


class SchemaBuilder:
    """Components for messages as JSON, one set for requests and one for responses
    (doubles and required fields differ)."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.components: dict[str, Any] = {}
        self._names: dict[tuple[str, bool], str] = {}

    def ref(self, message_name: str, response: bool) -> dict[str, Any]:
        key = (message_name, response)
        name = self._names.get(key)
        if name is None:
            name = message_name.rsplit(".", 1)[-1]
            if name in self.components:  # the same message in the other direction
                name += "Output" if response else "Input"
            self._names[key] = name
            self.components[name] = {}  # placeholder: recursion stops here
            self.components[name] = self._message(message_name, response)
        return {"$ref": REF.format(name=name)}

    def _message(self, message_name: str, response: bool) -> dict[str, Any]:
        message = self.contract.messages[message_name]
        properties: dict[str, Any] = {}
        required = []
        for field in message.field:
            property_schema = self.field(field, response)
            description = self.contract.comments.get(f"@{message_name}.{field.name}")
            if description:
                property_schema = {**property_schema, "description": description}
            properties[field.name] = property_schema
            printed_always = not field.proto3_optional and (
                field.label == _FDP.LABEL_REPEATED or field.type != _FDP.TYPE_MESSAGE
            )
            if response and printed_always:
                required.append(field.name)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if not response:
            schema["additionalProperties"] = False
        description = self.contract.comments.get(f"@{message_name}")
        if description:
            schema["description"] = description
        return schema

    def field(self, field: descriptor_pb2.FieldDescriptorProto, response: bool) -> dict[str, Any]:
        if field.type == _FDP.TYPE_MESSAGE:
            entry = self.contract.messages[field.type_name]
            if entry.options.map_entry:
                value = self.field(entry.field[1], response)
                return {"type": "object", "additionalProperties": value}
            single = self.ref(field.type_name, response)
        elif field.type == _FDP.TYPE_ENUM:
            values = [value.name for value in self.contract.enums[field.type_name].value]
            single = {"type": "string", "enum": values}
        elif field.type == _FDP.TYPE_DOUBLE:
            single = _DOUBLE_OUT if response else {"type": "number"}
        else:
            single = dict(_SCALARS[field.type])
        if field.label == _FDP.LABEL_REPEATED:
            return {"type": "array", "items": single}
        return single

    def msgspec_types(self, types: list[type]) -> list[dict[str, Any]]:
        schemas, components = msgspec.json.schema_components(types, ref_template=REF)
        for name, schema in components.items():
            if self.components.setdefault(name, schema) != schema:
                raise SystemExit(f"two different schemas are named {name}")
        return list(schemas)


_BINDING_KINDS = ("get", "put", "post", "delete", "patch")


def _bindings(rule: Any) -> list[tuple[str, str, str]]:
    """(verb, path template, body) of a google.api.http rule and its additional bindings."""
    found = []
    for binding in [rule, *rule.additional_bindings]:
        kind = binding.WhichOneof("pattern")
        if kind in _BINDING_KINDS:
            found.append((kind, getattr(binding, kind), binding.body))
    return found


def _fields_in_path(template: str) -> list[str]:
    return re.findall(r"{([^}=]+)", template)


def _openapi_path(template: str) -> str:
    return re.sub(r"{([^}=]+)(=[^}]*)?}", r"{\1}", template)


def build(descriptor_set: bytes) -> dict[str, Any]:
    files = list(descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file)
    contract = Contract(files)
    schemas = SchemaBuilder(contract)
    paths: dict[str, dict[str, Any]] = {}
    for file in files:
        for service_index, service in enumerate(file.service):
            full_service = f"{file.package}.{service.name}"
            error = V2_ERROR if full_service in V2_SERVICES else STATUS_ERROR
            for method_index, method in enumerate(service.method):
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                rule = method.options.Extensions[annotations_pb2.http]
                description = contract.comment(file, [6, service_index, 2, method_index])
                full_method = f"{full_service}.{method.name}"
                for number, (verb, template, body) in enumerate(_bindings(rule)):
                    operation = _operation(
                        schemas,
                        contract,
                        method,
                        full_method,
                        template,
                        body,
                        error,
                        description,
                    )
                    operation["operationId"] = f"{service.name}.{method.name}" + (
                        f".{number}" if number else ""
                    )
                    paths.setdefault(_openapi_path(template), {})[verb] = operation
    schemas.components[STATUS_ERROR] = {
        "type": "object",
        "description": "A failed call: its gRPC status code, message and details.",
        "properties": {
            "code": {"type": "integer"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {}},
        },
        "required": ["code", "message"],
    }
    schemas.msgspec_types([oip_rest.ErrorResponse])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Diabetes progression prediction service",
            "version": project["version"],
            "description": (
                "Every public JSON route behind Envoy: the typed routes (the contract's "
                "gRPC-JSON bindings) and the Open Inference Protocol's V2 REST routes. "
                "Generated from protos/ by tools/docs/gen_openapi.py; do not edit."
            ),
            "license": {"name": project["license"], "identifier": project["license"]},
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.components.items()))},
    }


def _operation(
    schemas: SchemaBuilder,
    contract: Contract,
    method: descriptor_pb2.MethodDescriptorProto,
    full_method: str,
    template: str,
    body: str,
    error: str,
    description: str,
) -> dict[str, Any]:
    request = contract.messages[method.input_type]
    in_path = _fields_in_path(template)
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in in_path
    ]
    operation: dict[str, Any] = {}
    if description:
        operation["summary"] = description.split(". ", maxsplit=1)[0].rstrip(".")
        operation["description"] = description
    fixed_bodies = JSON_BODIES.get(full_method)
    request_schema: dict[str, Any] | None = None
    if body:
        if fixed_bodies is not None and fixed_bodies[0] is not None:
            [request_schema] = schemas.msgspec_types([fixed_bodies[0]])
        elif body == "*":
            request_schema = schemas.ref(method.input_type, response=False)
        else:
            field = next(f for f in request.field if f.name == body)
            request_schema = schemas.field(field, response=False)
    bound = {*in_path, body} if body != "*" else {f.name for f in request.field}
    for field in request.field:
        if field.name in bound or field.type == _FDP.TYPE_MESSAGE:
            continue
        schema = schemas.field(field, response=False)
        parameter = {"name": field.name, "in": "query", "required": False, "schema": schema}
        comment = contract.comments.get(f"@{method.input_type}.{field.name}")
        if comment:
            parameter["description"] = comment
        parameters.append(parameter)
    if parameters:
        operation["parameters"] = parameters
    if request_schema is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": request_schema}},
        }
    if method.output_type == HTTP_BODY:
        if fixed_bodies is None:
            response_schema: dict[str, Any] = {}
        else:
            [response_schema] = schemas.msgspec_types([fixed_bodies[1]])
    else:
        response_schema = schemas.ref(method.output_type, response=True)
        if method.server_streaming:
            # The transcoder sends a stream's messages as one JSON array.
            response_schema = {"type": "array", "items": response_schema}
    operation["responses"] = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": response_schema}},
        },
        "default": {
            "description": "An error",
            "content": {"application/json": {"schema": {"$ref": REF.format(name=error)}}},
        },
    }
    return operation


def render() -> str:
    return json.dumps(build(DESCRIPTOR_SET.read_bytes()), indent=2) + "\n"


def stale() -> list[str]:
    """The file, if it is not what the contract gives."""
    is_stale = not OUTPUT.exists() or OUTPUT.read_text() != render()
    return [str(OUTPUT.relative_to(ROOT))] if is_stale else []


def write() -> list[str]:
    """Rewrite the file if it is stale; the file written."""
    found = stale()
    if found:
        OUTPUT.write_text(render())
    return found
