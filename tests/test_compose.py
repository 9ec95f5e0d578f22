"""The production stack checked without Docker: docker-compose.yml, the image, and the files and environment
names it relies on. The configurations the project's services get are validated with the project's own models;
mosquitto's ACL file runs on the real broker."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import yaml
from support import PROJECT, StackMosquitto, wait_until

from edge_agent.config import agent_config_model
from factory_twin import plant_gen
from plantmodel.config import load_config
from plantmodel.plant import PlantConfig
from twin.config import load_twin

COMPOSE = yaml.safe_load((PROJECT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
ENV_EXAMPLE = dict(line.split("=", 1) for line in (PROJECT / ".env.example").read_text().splitlines()
                   if line.strip() and not line.startswith("#"))
CONTAINER_ROOTS = {"/etc/factory-twin": PROJECT / "configs"}  # the image's configs, and the bind mount over them
PROJECT_SERVICES = {n for n, s in SERVICES.items() if s.get("build")}


def test_the_stack_has_every_part() -> None:
    assert {"mosquitto", "influxdb", "grafana", "prometheus"} <= set(SERVICES)
    assert {"sim-line1", "sim-line2", "edge-line1", "edge-line2", "twin-a", "twin-b"} <= PROJECT_SERVICES
    assert SERVICES["influxdb"]["image"].startswith("influxdb:2.7")
    for name, service in SERVICES.items():
        assert service.get("image") or service.get("build"), f"{name}: neither image nor build"
        if name not in PROJECT_SERVICES:
            assert re.fullmatch(r"[\w./-]+:v?\d[\w.-]*", service["image"]), f"{name}: pin the image's version"
        assert "healthcheck" in service and service["healthcheck"]["test"], f"{name}: no health check"
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in SERVICES, f"{name}: depends on unknown service {dep}"
            if cond.get("condition") == "service_healthy":
                assert "healthcheck" in SERVICES[dep]


def test_health_checks_use_the_twin_and_agent_endpoints() -> None:
    for name in PROJECT_SERVICES:
        test = " ".join(SERVICES[name]["healthcheck"]["test"])
        if name.startswith("twin-"):
            assert "/api/health" in test and "--bearer-env FT_VIEWER_KEY" in test
        elif name.startswith("edge-"):
            assert ":9100/health" in test
        assert "factory_twin.probe" in test  # the slim image has no curl


def test_ports_are_valid_and_distinct() -> None:
    published = []
    for name, service in SERVICES.items():
        for spec in service.get("ports", []):
            host, container = spec.rsplit(":", 1)
            host = re.sub(r"\$\{[A-Z_]+:-(\d+)\}", r"\1", host)
            assert host.isdigit() and container.isdigit(), f"{name}: port {spec!r}"
            assert 0 < int(host) < 65536 and 0 < int(container) < 65536
            published.append(int(host))
    assert len(published) == len(set(published)), f"a host port is published twice: {sorted(published)}"


def _binds() -> list[tuple[str, str, str]]:
    out = []
    for name, service in SERVICES.items():
        for v in service.get("volumes", []):
            source, target = v.split(":")[:2]
            if source.startswith("./"):
                out.append((name, source, target))
    return out


def test_every_bind_mounted_file_exists() -> None:
    binds = _binds()
    assert binds
    for name, source, _ in binds:
        assert (PROJECT / source).exists(), f"{name}: {source} does not exist"
    for folder in ("dashboards/provisioning/datasources", "dashboards/provisioning/dashboards", "dashboards/json"):
        assert any(t for n, s, t in binds if n == "grafana" and s == f"./{folder}"), f"grafana does not mount {folder}"


def _host_path(container_path: str) -> Path:
    for root, host in CONTAINER_ROOTS.items():
        if container_path.startswith(root + "/"):
            return host / container_path[len(root) + 1:]
    raise AssertionError(f"{container_path} is not inside a mounted folder")


def _service_env(name: str) -> dict[str, str]:
    """What the container's environment would hold with .env.example as .env."""
    env = {}
    for key, value in (SERVICES[name].get("environment") or {}).items():
        env[key] = re.sub(r"\$\{([A-Z_]+)(?::[-?][^}]*)?\}", lambda m: ENV_EXAMPLE.get(m.group(1), ""), str(value))
    return env


def test_every_variable_of_the_compose_file_is_in_the_example_env_file() -> None:
    text = (PROJECT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used, "no variables found"
    assert used <= set(ENV_EXAMPLE), f"missing from .env.example: {sorted(used - set(ENV_EXAMPLE))}"
    assert all(v == "change-me" for k, v in ENV_EXAMPLE.items() if re.search("PASSWORD|TOKEN|_KEY$", k))


def test_secrets_stay_out_of_git() -> None:
    assert ".env" in (PROJECT / ".gitignore").read_text().split()
    assert ".env" in (PROJECT / ".dockerignore").read_text().split()


def test_the_image_is_slim_multi_stage_and_not_root() -> None:
    text = (PROJECT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) >= 2 and all(s == "python:3.12-slim" for s in stages)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        assert (PROJECT / source).exists(), f"Dockerfile copies {source}, which does not exist"


def test_the_image_ships_the_product_and_not_the_benchmarks() -> None:
    """Every package pyproject installs is copied into the build, except benchmarks/ (and tests/): they run from
    a checkout, so the build context leaves them out too."""
    text = (PROJECT / "Dockerfile").read_text()
    copied = {source.rstrip("/") for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M)}
    installed = {p.rstrip("*") for p in re.search(r"include = \[([^]]*)\]", (PROJECT / "pyproject.toml").read_text())
                 .group(1).replace('"', "").replace("\n", "").replace(" ", "").split(",")}
    assert not copied & {"benchmarks", "tests"}
    assert installed - {"benchmarks"} <= copied, f"not copied into the image: {installed - {'benchmarks'} - copied}"
    assert {"benchmarks/", "tests/"} <= set((PROJECT / ".dockerignore").read_text().split())


def test_the_project_services_configs_are_valid_and_read_only_variables_they_get() -> None:
    for name in sorted(PROJECT_SERVICES):
        command = SERVICES[name]["command"]
        config = _host_path(next(a for a in command if a.endswith(".yaml")))
        assert config.exists(), f"{name}: {config} does not exist"
        env = {**ENV_EXAMPLE, **_service_env(name)}  # ${...:-default}s in the configs see .env's values
        if command[:2] == ["edge", "run"]:
            cfg = load_config(config, agent_config_model(), env)
            wanted = {s.broker.password_env for s in cfg.sinks if getattr(s, "broker", None)}
            wanted |= {s.influxdb.token_env for s in cfg.sinks if getattr(s, "influxdb", None)}
            assert cfg.health.port == 9100 and cfg.health.host == "0.0.0.0"
        elif command[:2] == ["twin", "serve"]:
            cfg, _, _ = load_twin(config, env)
            wanted = {cfg.broker.password_env} | {k.key_env for k in cfg.auth.api_keys}
            assert cfg.history is not None and cfg.history.influxdb is not None  # replay and gaps from InfluxDB
            wanted |= {cfg.history.influxdb.token_env}
            assert cfg.port == 8000 and cfg.host == "0.0.0.0" and cfg.partition is not None
        else:
            assert command[:2] == ["sim", "serve"]
            load_config(config, PlantConfig, env)
            wanted = set()
        missing = {w for w in wanted if w} - set(_service_env(name))
        assert not missing, f"{name} reads {sorted(missing)} but compose does not give it them"


def test_the_twins_partition_covers_every_line_once_and_names_real_peers() -> None:
    plant = PlantConfig.model_validate(plant_gen.load(PROJECT / "configs" / "compose" / "plant.yaml"))
    owned: list[str] = []
    for name in ("twin-a", "twin-b"):
        cfg, _, _ = load_twin(_host_path(SERVICES[name]["command"][2]), ENV_EXAMPLE)
        assert cfg.partition is not None
        owned += cfg.partition.lines
        for peer in cfg.partition.peers:
            host, port = peer.url.split("//")[1].split(":")
            assert host in SERVICES and port == "8000"
    assert sorted(owned) == sorted(line.path for line in plant.lines())


def test_the_compose_plants_are_what_the_generator_makes() -> None:
    folder = PROJECT / "configs" / "compose"
    plant = plant_gen.replicate(plant_gen.load(PROJECT / "configs" / "demo-plant.yaml"), 2)
    assert plant_gen.load(folder / "plant.yaml") == plant
    for i in range(2):
        assert plant_gen.load(folder / f"plant-line{i + 1}.yaml") == plant_gen.only_line(plant, i)


def test_prometheus_scrapes_every_agent_and_twin_with_a_bearer_file() -> None:
    prom = yaml.safe_load((PROJECT / "configs" / "prometheus" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    agents = {t for sc in jobs["factory-twin-agent"]["static_configs"] for t in sc["targets"]}
    twins = {t for sc in jobs["factory-twin-twin"]["static_configs"] for t in sc["targets"]}
    assert agents == {f"{n}:9100" for n in PROJECT_SERVICES if n.startswith("edge-")}
    assert twins == {f"{n}:8000" for n in PROJECT_SERVICES if n.startswith("twin-")}
    auth = jobs["factory-twin-twin"]["authorization"]
    assert auth["type"] == "Bearer"
    assert auth["credentials_file"] in (PROJECT / "configs" / "prometheus" / "entrypoint.sh").read_text()


def test_influxdb_maps_the_database_the_agents_query() -> None:
    script = (PROJECT / "configs" / "influxdb" / "init-dbrp.sh").read_text()
    assert "influx v1 dbrp create" in script and '--db "$DOCKER_INFLUXDB_INIT_BUCKET"' in script
    env = _service_env("influxdb")
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    cfg = load_config(_host_path("/etc/factory-twin/compose/edge-line1.yaml"), agent_config_model(), ENV_EXAMPLE)
    influx = next(s.influxdb for s in cfg.sinks if getattr(s, "influxdb", None))
    assert influx.database == influx.bucket == env["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert influx.org == env["DOCKER_INFLUXDB_INIT_ORG"]
    for name in ("twin-a", "twin-b"):  # the twins read the same database through the mapping
        cfg_twin, _, _ = load_twin(_host_path(SERVICES[name]["command"][2]), ENV_EXAMPLE | _service_env(name))
        assert cfg_twin.history is not None and cfg_twin.history.influxdb is not None
        assert cfg_twin.history.influxdb.database == env["DOCKER_INFLUXDB_INIT_BUCKET"]
        assert cfg_twin.history.influxdb.url == "http://influxdb:8086"


def test_the_system_health_dashboard_reads_the_provisioned_prometheus() -> None:
    ds = yaml.safe_load((PROJECT / "dashboards/provisioning/datasources/prometheus.yaml").read_text())
    uid = ds["datasources"][0]["uid"]
    assert ds["datasources"][0]["url"] == "${PROMETHEUS_URL}" and "PROMETHEUS_URL" in _service_env("grafana")
    dash = json.loads((PROJECT / "dashboards/json/system-health.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert all(p["datasource"]["uid"] == uid for p in dash["panels"])
    for series in ("factory_twin_twin_messages_total", "factory_twin_twin_ingest_latency_seconds_bucket",
                   "factory_twin_agent_samples_in_total", "factory_twin_agent_sink_spool_depth_records",
                   "factory_twin_twin_broker_reconnects_total", "factory_twin_agent_source_reconnects_total",
                   "factory_twin_twin_alerts_open",
                   "factory_twin_twin_http_request_duration_seconds_bucket", "factory_twin_twin_websocket_clients"):
        assert any(series in e for e in exprs), f"no panel shows {series}"


def test_mosquitto_acl_lets_each_role_do_only_its_part(tmp_path: Path) -> None:
    """The stack's mosquitto.conf and ACL on Debian's mosquitto: paths and port changed, rights as shipped."""
    if not Path(shutil.which("mosquitto") or "/usr/sbin/mosquitto").exists():
        pytest.fail("mosquitto is not installed (apt-get install -y mosquitto)")
    broker = StackMosquitto(tmp_path, {"edge": "edge-pw", "twin": "twin-pw"}).start()
    port = broker.port
    clients = []
    try:

        def client(user: str | None, password: str | None) -> tuple[paho.Client, list[Any], list[Any]]:
            got: list[Any] = []
            refused: list[Any] = []
            c = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
            if user:
                c.username_pw_set(user, password)
            c.on_message = lambda cl, u, msg: got.append((msg.topic, msg.payload))
            c.on_connect = lambda cl, u, f, rc, p=None: refused.append(rc.is_failure)
            c.connect("127.0.0.1", port)
            c.loop_start()
            clients.append(c)
            wait_until(lambda: refused, 5, f"{user} to be answered")
            return c, got, refused

        _, _, refused = client(None, None)
        assert refused == [True]  # no anonymous access
        _, _, refused = client("edge", "wrong")
        assert refused == [True]
        twin, twin_got, _ = client("twin", "twin-pw")
        twin.subscribe("$share/twin/acme/#", qos=1)[1]
        edge, edge_got, _ = client("edge", "edge-pw")
        edge.subscribe("acme/#", qos=1)
        wait_until(lambda: edge.subscribe("acme/probe", qos=1)[0] == 0, 5, "subscriptions")
        twin.publish("acme/plant1/machining/line1/turning/cnc-1/spindle_speed", b"from-twin", qos=1).wait_for_publish(5)
        edge.publish("acme/plant1/machining/line1/turning/cnc-1/spindle_speed", b"from-edge", qos=1).wait_for_publish(5)
        wait_until(lambda: twin_got and edge_got, 5, "the edge's message at the twin's shared subscription")
        assert [p for _, p in twin_got] == [b"from-edge"]  # the twin reads but cannot write
        assert [p for _, p in edge_got] == [b"from-edge"]
        twin.subscribe("$SYS/broker/uptime", qos=0)  # what the compose health check reads
        wait_until(lambda: any(t == "$SYS/broker/uptime" for t, _ in twin_got), 15, "the broker's uptime")
    finally:
        for c in clients:
            c.disconnect()
            c.loop_stop()
        broker.stop()
