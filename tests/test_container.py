"""The container files agree with each other and with the code: docker-compose.yml, Dockerfile,
.dockerignore, README's "Running with Docker" and bridge/entrypoint.py name the same variables,
paths, ports and commands. (No Docker engine here: what runs is tests/bridge/test_entrypoint.py.)
A rename on one side only fails here."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML

from bridge import entrypoint

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    document: dict[str, Any] = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
    return document


def services() -> dict[str, Any]:
    result: dict[str, Any] = compose()["services"]
    return result


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    instructions = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def instruction(keyword: str) -> list[str]:
    return [arguments for name, arguments in dockerfile() if name == keyword]


def runtime_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage (the image that runs)."""
    steps = dockerfile()
    last_from = max(index for index, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for name, arguments in runtime_stage():
        if name == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", arguments)))
    return env


def example() -> Any:
    return YAML(typ="safe").load((ROOT / "config.example.yaml").read_text())


def docker_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### Running with Docker")
    end = min(readme.index("\n## ", start), readme.index("\n### ", start + 1))
    return readme[start:end]


def bind_mounts(service: str) -> dict[str, str]:
    """Host path to container path (without :ro) of a service's volumes."""
    mounts = {}
    for volume in services()[service].get("volumes", []):
        host, target, *_ = volume.split(":")
        mounts[host] = target
    return mounts


def bridge_env() -> dict[str, str]:
    env: dict[str, str] = services()["bridge"]["environment"]
    return env


def test_the_compose_file_runs_synapse_postgresql_and_the_bridge() -> None:
    assert {"synapse", "postgres", "bridge"} <= set(services())
    bridge = services()["bridge"]
    assert bridge["build"] == "."  # the Dockerfile beside it
    assert set(bridge["depends_on"]) == {"synapse", "postgres"}


def test_the_bridge_gets_only_variables_the_entrypoint_reads() -> None:
    given = set(bridge_env())
    assert given <= set(entrypoint.VARIABLES)
    # What compose does not give is set in the image or optional (a Local Bot API server).
    image_variables = set(image_env())
    assert set(entrypoint.VARIABLES) - given == {"BRIDGE_APPSERVICE_HOSTNAME", "TELEGRAM_API_URL"}
    assert "BRIDGE_APPSERVICE_HOSTNAME" in image_variables
    assert image_env()["BRIDGE_APPSERVICE_HOSTNAME"] == "0.0.0.0"  # reachable from Synapse


def test_the_data_directory_is_one_path_everywhere() -> None:
    (volume,) = instruction("VOLUME")
    assert volume == entrypoint.DEFAULT_DATA_DIR
    assert image_env()[entrypoint.DATA_DIR_VARIABLE] == volume
    workdirs = [arguments for name, arguments in runtime_stage() if name == "WORKDIR"]
    assert workdirs[-1] == volume
    assert volume in bind_mounts("bridge").values()


def test_synapse_reads_the_registration_where_readme_says() -> None:
    bridge_data = next(host for host, target in bind_mounts("bridge").items() if target == "/data")
    synapse_view = bind_mounts("synapse")[bridge_data]
    assert f"{bridge_data}:{synapse_view}:ro" in services()["synapse"]["volumes"]
    registration = f"{synapse_view}/{entrypoint.REGISTRATION_NAME}"
    section = docker_section()
    assert f"app_service_config_files:\n     - {registration}" in section
    assert registration in Path(entrypoint.__file__).read_text()  # what the first run says
    # The directory the README has the admin create is that one, owned by the image's user.
    (user,) = [arguments for name, arguments in runtime_stage() if name == "USER"]
    assert f"mkdir {bridge_data.removeprefix('./')} && sudo chown {user} " in section


def port(url: str) -> int:
    parsed = urlsplit(url)
    assert parsed.port is not None, url
    return parsed.port


def test_addresses_name_the_services_and_the_default_ports() -> None:
    env = bridge_env()
    appservice = urlsplit(env["BRIDGE_APPSERVICE_ADDRESS"])
    assert appservice.hostname == "bridge" and "bridge" in services()
    assert port(env["BRIDGE_APPSERVICE_ADDRESS"]) == example()["appservice"]["port"]
    (exposed,) = instruction("EXPOSE")
    assert int(exposed) == example()["appservice"]["port"]

    homeserver = urlsplit(env["BRIDGE_HOMESERVER_ADDRESS"])
    assert homeserver.hostname == "synapse"
    synapse_ports = [int(mapping.split(":")[-1]) for mapping in services()["synapse"]["ports"]]
    assert homeserver.port in synapse_ports
    assert homeserver.port == port(example()["homeserver"]["address"])  # Synapse's usual 8008

    assert (
        env["BRIDGE_HOMESERVER_DOMAIN"]
        == (services()["synapse"]["environment"]["SYNAPSE_SERVER_NAME"])
    )


def test_the_database_url_is_the_postgres_service() -> None:
    postgres = services()["postgres"]["environment"]
    # ${...} becomes its value only when compose runs.
    database = urlsplit(re.sub(r"\$\{[^}]*\}", "interpolated", bridge_env()["BRIDGE_DATABASE"]))
    assert database.scheme == "postgresql"
    assert database.hostname == "postgres"
    assert database.username == postgres["POSTGRES_USER"]
    assert database.path == f"/{postgres['POSTGRES_DB']}"
    # The same ${...} interpolation on both sides (the password itself lives in .env).
    assert f":{postgres['POSTGRES_PASSWORD']}@" in bridge_env()["BRIDGE_DATABASE"]


def test_the_image_is_built_from_a_wheel_and_runs_as_a_user() -> None:
    steps = dockerfile()
    assert len(instruction("FROM")) >= 2, "a build stage and a runtime stage"
    runs = " ".join(instruction("RUN"))
    assert "pip wheel" in runs
    assert "--constraint constraints.txt" in runs
    assert "--editable" not in runs and not re.search(r"pip install[^&]* -e ", runs)
    # The runtime stage gets the installed environment, not the sources.
    runtime_copies = [args for name, args in runtime_stage() if name == "COPY"]
    assert runtime_copies and all(args.startswith("--from=") for args in runtime_copies)

    (user,) = [arguments for name, arguments in runtime_stage() if name == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "a fixed, non-root uid"
    assert gid == "991", "Synapse's group in its image: it reads the registration"
    assert steps[-1][0] == "ENTRYPOINT"


def test_the_entrypoint_is_the_packaged_module() -> None:
    (arguments,) = instruction("ENTRYPOINT")
    command = json.loads(arguments)
    assert command[:2] == ["python", "-m"]
    module = importlib.import_module(command[2])
    assert module is entrypoint
    assert (ROOT / "bridge" / "entrypoint.py").exists()


def copied_sources() -> list[str]:
    """What the build stage copies from the build context."""
    copied = []
    for name, arguments in dockerfile():
        if name == "COPY" and not arguments.startswith("--from"):
            *sources, _ = arguments.split()
            copied += sources
    return copied


def test_the_build_context_holds_what_the_dockerfile_copies_and_not_the_volumes() -> None:
    copied = copied_sources()
    for source in copied:
        assert (ROOT / source).exists(), source
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "everything is left out unless named"
    included = {line.removeprefix("!") for line in lines if line.startswith("!")}
    assert included == set(copied)
    volumes = {host.removeprefix("./") for name in services() for host in bind_mounts(name)}
    assert not volumes & included  # directories of other users' files: unreadable for a build


def test_readme_names_the_compose_services_variables_and_commands() -> None:
    section = docker_section()
    for command in (
        "docker compose run --rm synapse generate",
        "docker compose run --rm --no-deps bridge",
        "docker compose up -d",
    ):
        assert command in section
    for verb, found in re.findall(r"docker compose (run|restart|logs)((?: [-\w]+)+)", section):
        named = [word for word in found.split() if not word.startswith("-")]
        if verb == "run":  # run SERVICE [ARGUMENTS...]
            named = named[:1]
        assert named and set(named) <= set(services()), found

    # The .env block names every variable docker-compose.yml interpolates.
    text = (ROOT / "docker-compose.yml").read_text()
    interpolated = set(re.findall(r"\$\{(\w+)", text))
    env_block = re.search(r"```sh\n\s*(MATRIX_SERVER_NAME=.*?)```", section, re.S)
    assert env_block is not None
    assert set(re.findall(r"^\s*(\w+)=", env_block.group(1), re.M)) == interpolated

    # The table of the entrypoint's variables is complete, each beside its setting.
    rows = dict(re.findall(r"^\| `(\w+)` \| [^|]*?`([\w.]+)`", section, re.M))
    assert set(rows) == set(entrypoint.VARIABLES)
    settings = {setting.variable: setting.key for setting in entrypoint.SETTINGS}
    for variable, key in rows.items():
        assert key == settings.get(variable, "bridge.permissions"), variable
    assert f"`{entrypoint.DATA_DIR_VARIABLE}`" in section


def test_the_volumes_and_the_env_file_stay_out_of_git() -> None:
    ignored = set((ROOT / ".gitignore").read_text().splitlines())
    for name in services():
        for host in bind_mounts(name):
            assert f"/{host.removeprefix('./')}/" in ignored, host
    assert "/.env" in ignored  # it holds the database password and the bot token


def test_the_copied_sources_build_a_wheel_with_the_entrypoint_and_the_example(
    tmp_path: Path,
) -> None:
    """The build stage's pip wheel, on exactly what the Dockerfile copies (symlinks kept, as
    COPY keeps them: bridge/config/config.example.yaml points at the top-level file)."""
    context = tmp_path / "src"
    context.mkdir()
    for source in copied_sources():
        if (ROOT / source).is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / source, context / source, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(ROOT / source, context / source)
    wheels = tmp_path / "wheels"
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    built = subprocess.run(
        [*command, "--wheel-dir", str(wheels), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (arguments,) = instruction("ENTRYPOINT")
        module = json.loads(arguments)[2]
        assert module.replace(".", "/") + ".py" in names
        example_text = archive.read("bridge/config/config.example.yaml").decode()
    assert example_text == (ROOT / "config.example.yaml").read_text()
    assert any(name.startswith("bridge/db/migrations/versions/") for name in names)
