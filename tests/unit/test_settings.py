"""Settings are declared once: every command's flags can be enumerated with their
environment variable, default and help; defaults come from one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.estimator import SimpleLinearRegression
from server.config import ServerConfig
from server.config import build_parser as server_parser
from server.processes import child_environment
from server.settings import OptionDoc, command_parsers, describe
from server.stack.__main__ import build_parser as stack_parser
from server.stack.__main__ import parse_options
from server.stack.envoy_config import EnvoyOptions
from server.stack.envoy_config import build_parser as envoy_parser


def _options(docs: list[OptionDoc]) -> dict[str, OptionDoc]:
    return {doc.flag: doc for doc in docs}


def test_every_command_can_be_enumerated() -> None:
    parsers = command_parsers()
    assert {"diabetes-server", "diabetes-service", "diabetes-train"} <= set(parsers)
    for build in parsers.values():
        docs = describe(build())
        assert docs
        assert all(doc.flag.startswith("--") and doc.help for doc in docs)


def test_server_settings_show_their_variable_and_default() -> None:
    docs = _options(describe(server_parser(environ={})))
    assert docs["--workers"].env_var == "DIABETES_WORKERS"
    assert docs["--workers"].default == str(ServerConfig.workers)
    assert docs["--port"].default == str(ServerConfig.port)
    # No machine path in what the docs render.
    assert docs["--model-repository"].default == "model/artifacts"
    assert docs["--model"].default == ""
    help_text = server_parser(environ={}).format_help()
    assert "[DIABETES_GRACE_PERIOD]" in help_text
    assert f"(default: {ServerConfig.grace_period})" in help_text


def test_environment_variables_set_defaults_and_are_validated() -> None:
    assert server_parser(environ={"DIABETES_WORKERS": "3"}).parse_args([]).workers == 3
    with pytest.raises(SystemExit):
        server_parser(environ={"DIABETES_WORKERS": "0"}).parse_args([])


def test_stack_shares_the_server_declarations() -> None:
    server = _options(describe(server_parser(environ={})))
    stack = _options(describe(stack_parser(environ={})))
    assert stack["--workers"] == server["--workers"]
    assert stack["--model"] == server["--model"]
    assert stack["--model-repository"] == server["--model-repository"]
    assert stack["--servers"].env_var == "DIABETES_SERVERS"
    assert stack["--grpc-port"].default == str(ServerConfig.port)
    assert stack["--http-port"].default == str(EnvoyOptions.http_port)
    assert stack["--admin-port"].default == str(EnvoyOptions.admin_port)


def test_envoy_renderer_defaults_come_from_its_options_and_the_server() -> None:
    assert EnvoyOptions.upstreams == (("server", ServerConfig.port),)
    docs = _options(describe(envoy_parser()))
    assert docs["--http-port"].default == str(EnvoyOptions.http_port)
    assert docs["--listen-address"].default == EnvoyOptions.listen_address
    # Deploy configs must not depend on the shell: the renderer reads no variables.
    assert all(doc.env_var is None for doc in docs.values())


def test_training_defaults_come_from_the_estimator() -> None:
    from model.train import build_parser as train_parser

    args = train_parser().parse_args([])
    params = SimpleLinearRegression().get_params()
    for name in ("learning_rate", "l2", "tol", "max_iter", "batch_size"):
        assert getattr(args, name) == params[name], name


def test_stack_builds_explicit_server_flags() -> None:
    options = parse_options(["--workers", "3", "--", "--threads", "4"])
    assert options.server_ports() == [ServerConfig.port]
    argv = options.server_argv(ServerConfig.port)
    assert argv[argv.index("--workers") + 1] == "3"
    assert argv[argv.index("--port") + 1] == str(ServerConfig.port)
    assert "--model" not in argv
    assert Path(argv[argv.index("--model-repository") + 1]) == ServerConfig.model_repository
    assert argv[-2:] == ["--threads", "4"]
    with pytest.raises(SystemExit):
        parse_options(["--", "--workers", "2"])


def test_an_explicit_grpc_port_is_the_first_of_consecutive_server_ports() -> None:
    assert parse_options(["--grpc-port", "6000", "--servers", "3"]).server_ports() == [
        6000,
        6001,
        6002,
    ]


def test_grpc_port_0_gives_each_server_a_free_port_of_its_own() -> None:
    options = parse_options(["--grpc-port", "0", "--servers", "3"])
    assert options.grpc_port is None
    ports = options.server_ports()
    assert len(set(ports)) == 3
    assert 0 not in ports


def test_children_inherit_no_service_settings() -> None:
    env = child_environment(
        {"PYTHONUNBUFFERED": "1"},
        base={"PATH": "/bin", "DIABETES_WORKERS": "2", "PROMETHEUS_MULTIPROC_DIR": "/tmp/x"},
    )
    assert env == {"PATH": "/bin", "PYTHONUNBUFFERED": "1"}
