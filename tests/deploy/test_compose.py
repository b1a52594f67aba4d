"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

No Docker runs here, so the files are kept right by reading them: services and
images, ports, start order, health checks, and environment wiring against the
settings the code really reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tsmetrics.cli import main as cli
from tsmetrics.settings import BY_NAME, ENV_PREFIX

ROOT = Path(__file__).resolve().parents[2]
SECRETS_DIR = "/run/secrets/"
APP_SERVICES = ("migrate", "api", "consumer", "simulator", "watch", "maintain")
# Settings holding credentials: the compose file may only pass them as *_FILE.
CREDENTIALS = {
    "DATABASE_URL",
    "SECRET_KEY",
    "BROKER_URL",
    "ALERT_WEBHOOK_URL",
    "ALERT_WEBHOOK_SECRET",
}
PASSWORD_IN_URL = re.compile(r"://[^/@:]+:[^/@]+@")


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml, parsed (YAML merge keys resolved)."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    """The services by name."""
    return compose["services"]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _environment(service: dict) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: str(value) for name, value in environment.items()}


def _secret_names(service: dict) -> set[str]:
    return {
        item if isinstance(item, str) else item["source"] for item in service.get("secrets", [])
    }


def _depends(service: dict) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service.get("depends_on", {}).items()}


def _one_shot(service: dict) -> bool:
    return service.get("restart") == "no"


def test_services_and_images(services):
    assert set(services) >= {"timescaledb", "rabbitmq", "redis", *APP_SERVICES}
    assert re.fullmatch(
        r"timescale/timescaledb:(latest|2\.\d+\.\d+)-pg1[6-9]", services["timescaledb"]["image"]
    )
    assert re.fullmatch(r"rabbitmq:[34]-management", services["rabbitmq"]["image"])
    assert re.fullmatch(r"redis:7(\.\d+)*", services["redis"]["image"])


def test_app_services_share_one_image_built_here(services):
    apps = [name for name, service in services.items() if "build" in service]
    assert set(apps) >= set(APP_SERVICES)
    assert {services[name]["image"] for name in apps} == {services["api"]["image"]}
    assert {str(services[name]["build"]) for name in apps} == {"."}


def test_api_runs_gunicorn_on_5221(services):
    api = services["api"]
    assert api["command"][:2] == ["gunicorn", "wsgi:app"]
    assert api["command"][2:] == ["-c", "gunicorn.conf.py"]
    assert "5221:5221" in [str(port) for port in api["ports"]]
    assert _environment(api)["TSMETRICS_BIND"] == "0.0.0.0:5221"


def test_tsmetrics_commands_exist(services):
    for name, service in services.items():
        command = service.get("command")
        if command and command[0] == "tsmetrics":
            assert command[1] in set(cli.commands), name
    assert services["migrate"]["command"] == ["tsmetrics", "migrate"]
    assert services["consumer"]["command"] == ["tsmetrics", "consume"]
    assert services["watch"]["command"] == ["tsmetrics", "watch"]
    assert "profiles" not in services["watch"]  # alerts run in every deployment
    assert services["maintain"]["command"] == ["tsmetrics", "maintain", "--every", "10m"]
    assert "profiles" not in services["maintain"]  # retention runs in every deployment
    assert services["simulator"]["command"][:2] == ["tsmetrics", "simulate"]
    assert services["simulator"]["profiles"] == ["demo"]


def test_start_order(services):
    assert _one_shot(services["migrate"])
    assert _depends(services["migrate"]) == {"timescaledb": "service_healthy"}
    api, consumer = _depends(services["api"]), _depends(services["consumer"])
    assert api["timescaledb"] == "service_healthy"
    assert api["migrate"] == "service_completed_successfully"
    assert consumer["migrate"] == "service_completed_successfully"
    assert consumer["rabbitmq"] == "service_healthy"
    assert _depends(services["simulator"])["rabbitmq"] == "service_healthy"
    maintain = _depends(services["maintain"])
    assert maintain["migrate"] == "service_completed_successfully"
    watch = _depends(services["watch"])
    assert watch["migrate"] == "service_completed_successfully"
    assert watch["timescaledb"] == "service_healthy"


def test_schema_users_wait_for_migrations(services):
    for name, service in services.items():
        uses_database = any(
            key.startswith(ENV_PREFIX + "DATABASE_URL") for key in _environment(service)
        )
        if uses_database and name != "migrate":
            assert _depends(service).get("migrate") == "service_completed_successfully", name


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if not _one_shot(service):
            test = service.get("healthcheck", {}).get("test")
            assert test and test[0] in ("CMD", "CMD-SHELL"), name
    assert services["rabbitmq"]["healthcheck"]["test"][1] == "rabbitmq-diagnostics"
    assert services["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]


def test_health_conditions_point_at_healthchecks(services):
    for name, service in services.items():
        for target, condition in _depends(service).items():
            assert target in services, f"{name} depends on unknown {target}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}"
            if condition == "service_completed_successfully":
                assert _one_shot(services[target]), f"{name} waits for {target} to exit"


def test_tsmetrics_variables_are_settings(services):
    known = set(BY_NAME)
    for name, service in services.items():
        for variable in _environment(service):
            if variable.startswith(ENV_PREFIX):
                setting = variable.removeprefix(ENV_PREFIX).removesuffix("_FILE")
                assert setting in known, f"{name}: {variable} is no setting"


def test_credentials_only_through_secret_files(services):
    for name, service in services.items():
        environment = _environment(service)
        for setting in CREDENTIALS:
            assert ENV_PREFIX + setting not in environment, f"{name}: use {setting}_FILE"
        assert "POSTGRES_PASSWORD" not in environment, name
        for variable, value in environment.items():
            assert not PASSWORD_IN_URL.search(value), f"{name}: {variable} holds a password"


def test_file_variables_point_at_mounted_secrets(compose, services):
    declared = set(compose["secrets"])
    for name, service in services.items():
        mounted = _secret_names(service)
        assert mounted <= declared, name
        for variable, value in _environment(service).items():
            if variable.endswith("_FILE"):
                assert value.startswith(SECRETS_DIR), f"{name}: {variable}"
                assert value.removeprefix(SECRETS_DIR) in mounted, f"{name}: {variable}"


def test_wiring_per_service(services):
    def variables(name: str) -> set[str]:
        return {key.removesuffix("_FILE") for key in _environment(services[name])}

    assert {"TSMETRICS_DATABASE_URL", "TSMETRICS_SECRET_KEY", "TSMETRICS_REDIS_URL"} <= variables(
        "api"
    )
    assert _environment(services["api"])["TSMETRICS_REDIS_URL"] == "redis://redis:6379/0"
    assert {"TSMETRICS_DATABASE_URL", "TSMETRICS_BROKER_URL"} <= variables("consumer")
    assert "TSMETRICS_BROKER_URL" in variables("simulator")
    assert "TSMETRICS_DATABASE_URL" in variables("migrate")
    assert {
        "TSMETRICS_DATABASE_URL",
        "TSMETRICS_ALERT_WEBHOOK_URL",
        "TSMETRICS_ALERT_WEBHOOK_SECRET",
        "TSMETRICS_PUBLIC_URL",
    } <= variables("watch")
    assert _environment(services["timescaledb"])["POSTGRES_PASSWORD_FILE"].startswith(SECRETS_DIR)


def test_secret_files_have_committed_examples(compose):
    for name, secret in compose["secrets"].items():
        path = ROOT / secret["file"]
        assert path.parent == ROOT / "secrets", name
        assert path.with_name(path.name + ".example").is_file(), f"{name}: no .example"
    assert (ROOT / "secrets" / "create.sh").is_file()


def test_example_urls_name_compose_services(services):
    examples = ROOT / "secrets"
    database = (examples / "database_url.example").read_text().strip()
    broker = (examples / "broker_url.example").read_text().strip()
    assert re.fullmatch(r"postgresql://tsmetrics:[^@]+@timescaledb:5432/tsmetrics", database)
    assert re.fullmatch(r"amqp://tsmetrics:[^@]+@rabbitmq:5672/%2F", broker)
    timescale = _environment(services["timescaledb"])
    assert timescale["POSTGRES_USER"] == timescale["POSTGRES_DB"] == "tsmetrics"


def test_dockerfile_slim_non_root_api_image(dockerfile):
    instructions = [instruction for instruction, _ in dockerfile]
    assert re.fullmatch(r"python:3\.1[12]-slim(-\w+)?", dict(dockerfile)["FROM"])
    users = [arguments for instruction, arguments in dockerfile if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert instructions.index("USER") < instructions.index("CMD")
    assert "5221" in dict(dockerfile)["EXPOSE"].split()
    assert dict(dockerfile)["CMD"] == '["gunicorn", "wsgi:app", "-c", "gunicorn.conf.py"]'
    installs = " ".join(arguments for instruction, arguments in dockerfile if instruction == "RUN")
    assert "embedded" not in installs


def test_secrets_stay_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "secrets/" in ignored
    assert ".venv/" in ignored


def test_probes_use_the_health_endpoints(services):
    assert "127.0.0.1:5221/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    consumer = services["consumer"]
    port = _environment(consumer)["TSMETRICS_METRICS_BIND"].rpartition(":")[2]
    assert f"127.0.0.1:{port}/readyz" in " ".join(consumer["healthcheck"]["test"])
    # Prometheus scrapes the consumer over the compose network; nothing is published.
    assert port in [str(item) for item in consumer.get("expose", [])]
    assert "ports" not in consumer


def test_api_metrics_add_up_over_workers_and_readiness_skips_the_broker(services):
    environment = _environment(services["api"])
    assert environment["PROMETHEUS_MULTIPROC_DIR"].startswith("/dev/shm/")  # noqa: S108 - RAM
    checks = environment.get("TSMETRICS_READY_CHECKS", BY_NAME["READY_CHECKS"].default)
    assert set(checks.split(",")) == {"database", "redis"}  # the API serves without RabbitMQ


def test_watch_health_follows_its_heartbeat(services):
    watch = services["watch"]
    heartbeat = _environment(watch)["TSMETRICS_WATCH_HEARTBEAT_PATH"]
    assert heartbeat.startswith("/dev/shm/")  # noqa: S108 - RAM, writable by the app's user
    probe = " ".join(watch["healthcheck"]["test"])
    assert f"os.path.getmtime('{heartbeat}')" in probe
    # Stale after three evaluation intervals (TSMETRICS_WATCH_INTERVAL, 60 s by default).
    assert "> 180" in probe and BY_NAME["WATCH_INTERVAL"].default * 3 == 180
    assert "ports" not in watch and "expose" not in watch
