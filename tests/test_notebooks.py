"""The notebooks run top to bottom against the local server, with the widget progress bar,
in a kernel that can import only what ``pip install ".[notebook]"`` installs; one that
reads ``KAFKA_BOOTSTRAP`` gets the tests' Kafka broker there."""

from __future__ import annotations

import re
import time
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from es_pandas import LocalEventStreams

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"


def _name(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def installed_by(extra: str) -> set[str]:
    """The distributions ``pip install ".[extra]"`` brings: the project's requirements
    (from pyproject.toml, which an editable install's metadata may lag behind) and,
    through the installed metadata, theirs."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pending = [
        Requirement(text)
        for text in project["dependencies"] + project["optional-dependencies"][extra]
    ]
    seen: set[str] = set()
    while pending:
        requirement = pending.pop()
        key = f"{_name(requirement.name)}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            texts = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue  # not for this platform
        for text in texts:
            nested = Requirement(text)
            extras = {"", *requirement.extras}
            if nested.marker is None or any(nested.marker.evaluate({"extra": e}) for e in extras):
                pending.append(nested)
    return {key.partition("[")[0] for key in seen}


# Run first in the kernel: what the extra does not install (pyarrow, nbclient, ...) is
# present in the test environment, so it is refused as if it were not.
ONLY_INSTALLED = """
import importlib.abc, importlib.metadata, re, sys

_allowed = set({allowed!r})
_missing = {{
    module
    for module, distributions in importlib.metadata.packages_distributions().items()
    if not {{re.sub(r"[-_.]+", "-", d).lower() for d in distributions}} & _allowed
}}


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _missing:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""


def test_notebooks_are_committed_without_outputs() -> None:
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path, monkeypatch, request) -> None:
    monkeypatch.delenv("CI", raising=False)  # CI silences bars; a notebook user sees them
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    if any("KAFKA_BOOTSTRAP" in cell.source for cell in notebook.cells):
        monkeypatch.setenv("KAFKA_BOOTSTRAP", request.getfixturevalue("kafka").bootstrap)
    allowed = sorted(installed_by("notebook"))
    notebook.cells.insert(0, nbformat.v4.new_code_cell(ONLY_INSTALLED.format(allowed=allowed)))
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    widgets = [o for o in outputs if WIDGET in o.get("data", {})]
    assert widgets, "the progress bar should be an ipywidgets widget in Jupyter"
    text = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "<th>ok</th>" in text  # the status frame's HTML summary


def test_interrupting_a_cell_that_awaits_stops_its_produce(es: LocalEventStreams) -> None:
    """A cell that awaits anything is run as a task, and ipykernel's SIGINT handler then
    cancels that task on the kernel's event loop, which the produce's wait blocks: the
    stop button was lost, and the run went on to its last row. It stops the run."""
    manager = pytest.importorskip("jupyter_client.manager")
    es.create_topic("interrupted-cell", 1)
    kernel, client = manager.start_new_kernel(kernel_name="python3")
    try:
        client.execute_interactive("import asyncio, sys, pandas as pd, es_pandas", timeout=60)
        cell = client.execute(
            "await asyncio.sleep(0)\n"
            "frame = pd.DataFrame({'id': range(200), 'n': range(200)})\n"
            "frame.es.produce('interrupted-cell', key_col='id', max_rate=20, progress=False,"
            f" url={es.url!r}, api_key={es.api_key!r})"
        )
        deadline = time.monotonic() + 60
        while es.stats().get("200", 0) < 5:
            assert time.monotonic() < deadline, client.get_shell_msg(timeout=1)["content"]
            time.sleep(0.01)
        kernel.interrupt_kernel()
        reply = client.get_shell_msg(timeout=60)
        assert reply["parent_header"]["msg_id"] == cell
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "ProduceInterrupted"
        counts = client.execute_interactive(
            "print(sys.last_value.status['status'].value_counts()['not_sent'])", timeout=60
        )
        assert counts["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        kernel.shutdown_kernel(now=True)
    assert len(es.read("interrupted-cell")) < 100
