"""ruff and mypy are part of the test suite, so one command checks everything."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_mypy_strict(platform: str) -> None:
    # As each platform sees the code: macOS has no os.fdatasync, Windows no fcntl or
    # os.readv, and a name missing there fails only there, at run time.
    pytest.importorskip("mypy")
    # the files and the strictness are in pyproject.toml ([tool.mypy]); a cache each,
    # as a platform's results are not another's
    command = ["--platform", platform, "--cache-dir", f".mypy_cache/{platform}"]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *command], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_users_typed_code_is_checked() -> None:
    """What an editor and mypy see of the public API: return types by dry_run, and each
    wrong option name, type or value an error (tests/typing/user_code.py)."""
    pytest.importorskip("mypy")
    command = ["--strict", "--cache-dir", ".mypy_cache/user", "tests/typing/user_code.py"]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *command], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
