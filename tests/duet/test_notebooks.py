"""The Duet walkthrough as two notebooks (owner and scientist) run by nbclient against a live
network node: proves that launch_duet/join_duet work where an event loop already runs."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed")
nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")
pytest.importorskip("ipykernel", reason="ipykernel is not installed (no python3 kernel)")

OWNER = [
    "import asyncio, pathlib, time\nimport numpy as np\nimport unseen",
    "assert asyncio.get_event_loop().is_running()  # Jupyter's loop\n"
    "duet = unseen.launch_duet(network_url=URL)",
    "duet.send(np.array([[0, 0], [0, 1]]), tags=['data'], searchable=True)\n"
    "(WORK / 'id.tmp').write_text(duet.id)\n(WORK / 'id.tmp').rename(WORK / 'id')",
    "deadline = time.monotonic() + 30\n"
    "while not len(duet.requests) and time.monotonic() < deadline:\n    time.sleep(0.05)\n"
    "duet.requests[0].accept()",
    "while not (WORK / 'done').exists() and time.monotonic() < deadline:\n    time.sleep(0.05)\n"
    "duet.close()",
]
SCIENTIST = [
    "import asyncio, pathlib, time\nimport unseen",
    "deadline = time.monotonic() + 30\n"
    "while not (WORK / 'id').exists() and time.monotonic() < deadline:\n    time.sleep(0.05)\n"
    "assert asyncio.get_event_loop().is_running()\n"
    "duet = unseen.join_duet((WORK / 'id').read_text(), network_url=URL)",
    "print('LINK', duet.link)\nduet.store.pandas",
    "total = duet.store['data'].sum().get(request_block=True, name='sum', reason='nb',"
    " timeout_secs=30)\nprint('RESULT', total)",
    "(WORK / 'done').write_text('1')\nduet.close()",
]


def _notebook(cells: list[str], url: str, work: Path) -> Any:
    head = f"URL = {url!r}\nimport pathlib\nWORK = pathlib.Path({str(work)!r})"
    return nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in [head, *cells]]
    )


def _outputs(notebook: Any) -> str:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(str(output.get("text", "")) + str(output.get("data", {})))
    return "\n".join(texts)


def test_two_notebooks(network: Any, tmp_path: Path) -> None:
    owner = _notebook(OWNER, network.url, tmp_path)
    scientist = _notebook(SCIENTIST, network.url, tmp_path)
    errors: list[BaseException] = []

    def run(notebook: Any) -> None:
        try:
            nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            (tmp_path / "done").write_text("1")

    owner_thread = threading.Thread(target=run, args=(owner,), daemon=True)
    owner_thread.start()
    run(scientist)
    owner_thread.join(60)
    assert not errors, errors
    out = _outputs(scientist)
    assert "LINK direct" in out and "RESULT 1" in out, out
    assert "Send the following code to your Duet Partner!" in _outputs(owner)
