"""Settings are declared once: every command's flags can be enumerated with their
environment variable, default and help; defaults come from one place; the commands are found
from the console scripts, and the settings modules import no command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from command_settings import OptionDoc, describe
from diabetes_client.settings import CONNECTION
from model.estimator import SimpleLinearRegression
from model.models_cli import build_parser as models_parser
from server.config import ServerConfig
from server.healthcheck import build_parser as healthcheck_parser
from server.settings import build_parser as server_parser
from server.stack.__main__ import build_parser as stack_parser
from server.stack.__main__ import parse_options
from server.stack.envoy_config import EnvoyOptions
from server.stack.envoy_config import build_parser as envoy_parser
from server.stack.processes import child_environment
from tools.docs.docgen import commands

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {
    "diabetes-client",
    "diabetes-models",
    "diabetes-server",
    "diabetes-service",
    "diabetes-train",
}


def _options(docs: list[OptionDoc]) -> dict[str, OptionDoc]:
    return {doc.flag: doc for doc in docs}


def test_every_console_script_is_found_and_has_a_parser() -> None:
    assert set(commands.console_scripts()) == SCRIPTS
    for name in SCRIPTS:
        parser = commands.parser_of(name)
        found = commands.flags(parser) + [
            flag for sub in commands.subcommands(parser).values() for flag in commands.flags(sub)
        ]
        assert found, name
        assert all(flag.help for flag in found if flag.flags.startswith("-")), name


def test_a_module_command_is_found_by_its_name_and_a_typo_is_named() -> None:
    assert commands.command_module("server.stack.envoy_config") == "server.stack.envoy_config"
    with pytest.raises(KeyError, match="no command 'diabetes-sever'"):
        commands.parser_of("diabetes-sever")


def _imported_by(module: str) -> set[str]:
    """Every module a fresh interpreter has loaded after importing `module`."""
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "module", ["command_settings", "server.settings", "diabetes_client.settings"]
)
def test_the_settings_modules_import_no_command(module: str) -> None:
    command_modules = {
        target.partition(":")[0] for target in commands.console_scripts().values()
    } | {"model.train", "server.stack.envoy_config", "server.healthcheck"}
    assert _imported_by(module) & command_modules == set()


def test_model_imports_no_server_module() -> None:
    loaded = _imported_by("model.models_cli, model.train_command, model.train")
    assert {name for name in loaded if name.split(".")[0] == "server"} == set()


def test_server_settings_show_their_variable_and_default() -> None:
    docs = _options(describe(server_parser(environ={})))
    assert docs["--threads"].env_var == "DIABETES_THREADS"
    assert docs["--threads"].default == str(ServerConfig.threads)
    assert docs["--port"].default == str(ServerConfig.port)
    # No machine path in what the docs render.
    assert docs["--model-repository"].default == "model/artifacts"
    assert docs["--model"].default == ""
    help_text = server_parser(environ={}).format_help()
    assert "[DIABETES_GRACE_PERIOD]" in help_text
    assert f"(default: {ServerConfig.grace_period})" in help_text


def test_environment_variables_set_defaults_and_are_validated() -> None:
    assert server_parser(environ={"DIABETES_THREADS": "3"}).parse_args([]).threads == 3
    with pytest.raises(SystemExit):
        server_parser(environ={"DIABETES_THREADS": "0"}).parse_args([])


def test_stack_shares_the_server_declarations() -> None:
    server = _options(describe(server_parser(environ={})))
    stack = _options(describe(stack_parser(environ={})))
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
    options = parse_options(["--servers", "3", "--", "--threads", "4"])
    assert options.server_ports() == [ServerConfig.port + i for i in range(3)]
    argv = options.server_argv(ServerConfig.port)
    assert argv[argv.index("--port") + 1] == str(ServerConfig.port)
    assert "--model" not in argv
    assert Path(argv[argv.index("--model-repository") + 1]) == ServerConfig.model_repository
    assert argv[-2:] == ["--threads", "4"]
    with pytest.raises(SystemExit):
        parse_options(["--", "--port", "2"])


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
        base={"PATH": "/bin", "DIABETES_THREADS": "2", "PROMETHEUS_MULTIPROC_DIR": "/tmp/x"},
    )
    assert env == {"PATH": "/bin", "PYTHONUNBUFFERED": "1"}


def test_models_cli_reads_the_servers_repository_variable(tmp_path: Path) -> None:
    parser = models_parser(environ={"DIABETES_MODEL_REPOSITORY": str(tmp_path)})
    assert parser.parse_args(["list"]).repository == tmp_path
    assert parser.parse_args(["list", "--repository", "elsewhere"]).repository == Path("elsewhere")
    list_help = commands.subcommands(models_parser(environ={}))["list"].format_help()
    assert "the model repository directory [DIABETES_MODEL_REPOSITORY]" in " ".join(
        list_help.split()
    )


def test_models_cli_without_a_repository_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    for environ in ({}, {"DIABETES_MODEL_REPOSITORY": ""}):
        with pytest.raises(SystemExit) as exited:
            models_parser(environ=environ).parse_args(["list"])
        assert exited.value.code == 2
        assert "the following arguments are required: --repository" in capsys.readouterr().err


def test_health_check_asks_the_servers_port_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck_parser(environ={}).parse_args([]).port == ServerConfig.port
    assert healthcheck_parser(environ={"DIABETES_PORT": "6001"}).parse_args([]).port == 6001
    with pytest.raises(SystemExit):
        healthcheck_parser(environ={"DIABETES_PORT": "70000"}).parse_args([])
    assert "argument --port: not a port number: 70000" in capsys.readouterr().err


def test_client_help_names_each_variable_once_from_its_declaration() -> None:
    help_text = commands.parser_of("diabetes-client").format_help()
    for setting in CONNECTION:
        assert setting.help_text in " ".join(help_text.split()), setting.flag
        if setting.env:
            assert len(re.findall(rf"\b{setting.env}\b", help_text)) == 1, setting.env


def test_client_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from diabetes_client.cli import build_parser as client_parser

    monkeypatch.setenv("DIABETES_TARGET", "example:443")
    monkeypatch.setenv("DIABETES_TLS", "yes")
    monkeypatch.setenv("DIABETES_TOKEN", "")
    args = client_parser().parse_args(["info"])
    assert (args.target, args.tls, args.token, args.timeout) == ("example:443", True, None, 30.0)
    args = client_parser().parse_args(["--no-tls", "info", "--target", "other:1"])
    assert (args.target, args.tls) == ("other:1", False)
