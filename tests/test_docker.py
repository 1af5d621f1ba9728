"""docker/: the image and the compose files that run a fleet in containers.

Read, not run, so no Docker daemon is needed: these check what the files promise each other
and the emulator (a shard service per shard that init makes, one state volume, the broker's
settings file, an image built from the packaging). scripts/check-docker builds and runs the
image where a daemon answers; its skipping is tested here too.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # PyYAML comes with amqtt, a dependency: its absence is a failure, not a skip

from emulator.fleet import Fleet
from emulator.wan.fleet_control import shard_state_topic

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE_FILES = ["compose.yaml", "compose.cluster.yaml"]
BROKER_PORT = 1883  # the port the brokers listen on inside their containers


def load(name: str) -> dict:
    return yaml.safe_load((DOCKER / name).read_text())


def option(argv: list[str], flag: str) -> str:
    assert flag in argv, f"{flag} missing from {argv}"
    return argv[argv.index(flag) + 1]


def shards(compose: dict) -> dict[str, list[str]]:
    """Shard services and their commands: those that run `run --fleet ... --shard K`."""
    found = {}
    for name, service in compose["services"].items():
        command = service.get("command")
        if isinstance(command, list) and command[:2] == ["run", "--fleet"]:
            found[name] = [str(arg) for arg in command]
    return found


def init_argv(compose: dict) -> list[str]:
    """The `smets-emu fleet init ...` that the init service's shell line runs."""
    init = compose["services"]["init"]
    assert init["entrypoint"] == ["sh", "-c"]
    (line,) = init["command"]
    argv = shlex.split(line)
    return argv[argv.index("smets-emu") + 1:]


def mounts(service: dict) -> dict[str, str]:
    """Target -> source of a service's volumes (short syntax), read-only flags dropped."""
    result = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        result[target] = source
    return result


def host_of(url: str) -> tuple[str, int]:
    match = re.fullmatch(r"mqtt://([^:/@]+):(\d+)", url)
    assert match, f"not a plain mqtt://host:port URL: {url}"
    return match[1], int(match[2])


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_a_shard_service_runs_each_shard_that_init_makes(name: str) -> None:
    compose = load(name)
    count = int(option(init_argv(compose), "--shards"))
    numbers = sorted(int(option(command, "--shard")) for command in shards(compose).values())
    assert numbers == list(range(count)), f"{name}: shards {numbers} for a fleet of {count}"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_container_sees_the_fleet_and_state_that_init_made(name: str) -> None:
    compose = load(name)
    services = compose["services"]
    argv = init_argv(compose)
    fleet_path, state_path = argv[argv.index("init") + 1], option(argv, "--state")
    init_mounts = mounts(services["init"])
    assert init_mounts[state_path] in compose["volumes"], "the state lives in a named volume"
    users = {**shards(compose), "head-end": [str(arg) for arg in services["head-end"]["command"]]}
    for service, command in users.items():
        assert option(command, "--fleet") == fleet_path, service
        assert option(command, "--state") == state_path, service
        assert mounts(services[service])[state_path] == init_mounts[state_path], service
        assert mounts(services[service])[fleet_path] == init_mounts[fleet_path] == "./fleet.toml", service
    assert services["head-end"]["volumes"][0].endswith(":ro"), "the head-end only reads the state"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_init_runs_once_and_before_the_shards(name: str) -> None:
    compose = load(name)
    state = option(init_argv(compose), "--state")
    # `fleet init` refuses a directory that holds a fleet: a second `up` must skip it
    assert compose["services"]["init"]["command"][0].startswith(f"test -f {state}/fleet.json || exec smets-emu fleet init ")
    for service in shards(compose):
        condition = compose["services"][service]["depends_on"]["init"]["condition"]
        assert condition == "service_completed_successfully", service


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_shards_connect_to_brokers_of_the_file(name: str) -> None:
    compose = load(name)
    nodes = set()
    for service, command in shards(compose).items():
        host, port = host_of(option(command, "--broker"))
        assert host in compose["services"] and port == BROKER_PORT, service
        assert host in compose["services"][service]["depends_on"], f"{service} starts before {host}"
        nodes.add(host)
    if name == "compose.cluster.yaml":
        assert len(nodes) > 1, "the cluster's shards are spread over its nodes"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_the_head_end_storms_a_region_of_the_fleet_when_asked(name: str) -> None:
    compose = load(name)
    head_end = compose["services"]["head-end"]
    command = [str(arg) for arg in head_end["command"]]
    assert head_end["profiles"] == ["storm"], "a plain `up` runs the fleet, not a storm"
    assert command[0] == "storm"
    assert option(command, "--region") in Fleet.from_toml(DOCKER / "fleet.toml").regions
    assert host_of(option(command, "--broker"))[0] in compose["services"]
    # the storm is published once: every shard must listen for it first
    assert {service: dependency["condition"] for service, dependency in head_end["depends_on"].items()} == {
        service: "service_healthy" for service in shards(compose)
    }


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_shards_serve_metrics_on_the_port_they_expose(name: str) -> None:
    compose = load(name)
    published = set()
    for service, command in shards(compose).items():
        port = option(command, "--metrics-port")
        assert compose["services"][service]["expose"] == [port], service
        (mapping,) = compose["services"][service]["ports"]
        assert mapping.endswith(f":{port}") and mapping.startswith("127.0.0.1:"), service
        published.add(mapping)
    assert len(published) == len(shards(compose)), "each shard on a host port of its own"


def test_both_files_check_shard_readiness_alike_on_the_shards_state_topic() -> None:
    checks = [{str(s["healthcheck"]) for s in load(name)["services"].values() if "command" in s
               and s["command"][:2] == ["run", "--fleet"]} for name in COMPOSE_FILES]  # fmt: skip
    assert all(len(found) == 1 for found in checks) and checks[0] == checks[1]
    test = load("compose.yaml")["services"]["shard-0"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    code = test[3]
    compile(code, "shard-ready", "exec")
    (template,) = re.findall(r'"(smwan/[^"]*%d[^"]*)"', code)
    assert template % 7 == shard_state_topic(7), "the check's topic is the one the shards publish on"


def test_the_broker_runs_with_smwan_conf() -> None:
    compose = load("compose.yaml")
    broker = compose["services"]["broker"]
    assert broker["image"] == "eclipse-mosquitto:2"
    (config,) = broker["configs"]
    assert config["target"] == "/mosquitto/config/mosquitto.conf"  # what the image's command reads
    main = compose["configs"][config["source"]]["content"].splitlines()
    assert "listener 1883" in main and "allow_anonymous true" in main
    include = next(line.split()[1] for line in main if line.startswith("include_dir "))
    persistence = next(line.split()[1] for line in main if line.startswith("persistence_location "))
    volumes = [volume.split(":") for volume in broker["volumes"]]
    assert ["./mosquitto/smwan.conf", f"{include}/smwan.conf", "ro"] in volumes
    assert any(target.rstrip("/") == persistence.rstrip("/") and source in compose["volumes"]
               for source, target, *_ in volumes), "mosquitto's persistence goes to a volume"  # fmt: skip


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_the_files_compose_names_exist(name: str) -> None:
    compose = load(name)
    for service_name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{service_name}: {source}"
        if "build" in service:
            context = DOCKER / service["build"]["context"]
            assert (context / service["build"]["dockerfile"]).is_file(), service_name
            assert service["image"] == "smets-emu:local", service_name


def dockerfile() -> list[list[str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DOCKER / "Dockerfile").read_text())
    return [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_image_is_built_from_the_packaging() -> None:
    instructions = dockerfile()
    assert {tuple(i[1:2]) for i in instructions if i[0] == "FROM"} == {("python:3.11-slim-bookworm",)}
    installs = [i for i in instructions if i[0] == "RUN" and "pip" in i]
    assert len(installs) == 1, "one pip install, of the project"
    argv = installs[0][installs[0].index("pip") + 1:]
    assert argv[0] == "install" and argv[-1] == "."
    assert all(arg.startswith("-") for arg in argv[1:-1]), f"packages listed by hand: {argv}"
    assert [i for i in instructions if i[0] == "ENTRYPOINT"] == [["ENTRYPOINT", '["smets-emu"]']]
    users = [i[1] for i in instructions if i[0] == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image runs as its own user"
    for copy in (i for i in instructions if i[0] == "COPY" and not i[1].startswith("--from")):
        for source in copy[1:-1]:
            assert (ROOT / source).exists(), source


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` out: the last pattern matching it or a parent wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    verdict = False
    for pattern in patterns:
        negated, body = pattern.startswith("!"), pattern.lstrip("!")
        regex = re.escape(body).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*").replace(r"\[co\]", "[co]")
        if any(re.fullmatch(regex, prefix) or fnmatch.fnmatchcase(prefix, body) for prefix in prefixes):
            verdict = not negated
    return verdict


def test_the_build_context_holds_only_what_the_image_is_built_from() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied = [source for i in dockerfile() if i[0] == "COPY" and not i[1].startswith("--from") for source in i[1:-1]]
    for path in [*copied, "gbcs/frame.py", "emulator/schema", "emulator/wan/smwan.conf"]:
        assert not ignored(path, patterns), path
    for path in [".venv/bin/python", ".git/HEAD", ".pytest_cache/v", ".hypothesis/examples", "smets-emu-fleet/fleet.json",
                 "emulator/__pycache__/cli.cpython-311.pyc", "emulator/fleet.pyc", "tests/test_docker.py",
                 "smets_emu.egg-info/PKG-INFO", "build/lib"]:  # fmt: skip
        assert ignored(path, patterns), path


def test_the_fleet_file_is_the_fleet_the_readme_describes() -> None:
    fleet = Fleet.from_toml(DOCKER / "fleet.toml")
    assert fleet.size == 1000
    assert set(fleet.regions) == {"north-west", "south-east"}


def test_compose_accepts_the_files() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI: compose's own reading of the files is not checked here")
    if subprocess.run([docker, "compose", "version"], check=False, capture_output=True).returncode != 0:
        pytest.skip("the docker CLI has no compose plugin: compose's own reading of the files is not checked here")
    for name in COMPOSE_FILES:
        command = [docker, "compose", "-f", str(DOCKER / name), "--profile", "storm", "config", "-q"]
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        assert result.returncode == 0, f"{name}: {result.stderr}"


def run_check_docker(path: Path) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash
    return subprocess.run([bash, str(ROOT / "scripts" / "check-docker")], check=False, capture_output=True, text=True,
                          env={"PATH": str(path), "HOME": str(path)}, timeout=60)  # fmt: skip


def tools(directory: Path, *names: str) -> Path:
    directory.mkdir()
    for name in names:
        found = shutil.which(name)
        assert found, name
        (directory / name).symlink_to(found)
    return directory


def test_check_docker_passes_with_its_reason_where_there_is_no_docker(tmp_path: Path) -> None:
    result = run_check_docker(tools(tmp_path / "bin", "dirname"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "check-docker: skipped: no docker command on PATH\n"


def test_check_docker_skips_what_needs_a_daemon_or_compose_where_they_are_missing(tmp_path: Path) -> None:
    bin_dir = tools(tmp_path / "bin", "dirname")
    (bin_dir / "docker").write_text("#!/bin/sh\nexit 1\n")  # a CLI with no compose plugin and no daemon
    (bin_dir / "docker").chmod(0o755)
    result = run_check_docker(bin_dir)
    assert result.returncode == 0, result.stderr
    assert "compose files not checked: the docker CLI has no compose plugin" in result.stdout
    assert "image build and runs skipped: no Docker daemon answers" in result.stdout
