"""Deployment artefacts: compose file, production settings, the embedded default."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_services_run_real_modules():
    compose = yaml.safe_load((ROOT / "docker/compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    web = services["web"]["command"]
    assert web[0] == "daphne"
    module, attribute = web[-1].split(":")
    assert callable(getattr(importlib.import_module(module), attribute))
    for role in ("worker", "beat"):
        command = services[role]["command"]
        assert command[:3] == ["celery", "-A", "console"] and command[3] == role
    assert importlib.import_module("console.celery").app.main == "warmline"
    dockerfile = (ROOT / "docker/Dockerfile").read_text()
    assert services["web"]["build"]["dockerfile"] == "docker/Dockerfile"
    assert "console.asgi:application" in dockerfile


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={"DEBUG": "0", "SECRET_KEY": "p" + os.urandom(32).hex(), "ALLOWED_HOSTS": "warmline.example.com"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = run_manage("check", env={"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.slow
def test_embedded_default_runs_a_whole_escalation(tmp_path):
    """No DATABASE_URL / REDIS_URL: SQLite, in-memory channel layer, tasks in-process."""
    database = tmp_path / "embedded.sqlite3"
    script = (ROOT / "tests/embedded_smoke.py").read_text()
    env = {"DEBUG": "1", "DATABASE_URL": f"sqlite:///{database}"}
    assert run_manage("migrate", "--noinput", env=env).returncode == 0
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
        | env
        | {"DJANGO_SETTINGS_MODULE": "console.settings"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "escalated: queued" in result.stdout
