"""Every ```python block of README.md and docs/*.md runs as pasted, in order, per page.

A block whose fence says ``raises=NAME`` shows an error: it must raise an exception of that class
name (a notebook cell that ends in the error the text describes). A page is a sequence of notebooks: a block runs in the notebook named by ``notebook=NAME`` on its
fence line (``main`` when absent), each notebook one fresh Python process with its own namespace,
so a block may use what an earlier block of the same notebook defined and nothing else. Blocks run
in the page's order, one at a time, across notebooks: a Duet page's owner and scientist take turns
as two people would. Two things a reader does by hand are done here the same way:

- where a page addresses a network node at ``http://127.0.0.1:8080`` (started in a terminal with
  ``unseen launch network --port 8080``), the test starts one on a free port and the blocks use its
  address;
- where a notebook prints a Duet line to send to the partner, the partner's ``join_duet`` gets the
  printed id, as the partner would paste it.

Each page runs with HOME and the working directory in a fresh temporary folder, so the default
data directory ``~/.unseen`` starts empty.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

import unseen

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NETWORK_URL = "http://127.0.0.1:8080"
DUET_LINE = re.compile(r'join_duet\("([0-9a-f]{32})"')
FENCE = re.compile(r"^```python(?P<rest>.*)$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    notebook: str
    code: str
    raises: str | None = None


def blocks_of(path: Path) -> list[Block]:
    """The page's python blocks in order; a fence's ``notebook=NAME`` names its notebook."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        words = dict(w.split("=", 1) for w in match["rest"].split() if "=" in w)
        start = index + 1
        index = start
        while index < len(lines) and not lines[index].startswith("```"):
            index += 1
        code = "\n".join(lines[start:index])
        notebook = words.get("notebook", "main")
        found.append(Block(path.name, start + 1, notebook, code, words.get("raises")))
        index += 1
    return found


def test_the_collector_finds_blocks_and_notebooks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\na = 1\n```\n```bash\nls\n```\n"
        "```python notebook=scientist\nb = 2\nc = 3\n```\n"
        "```python raises=KeyError\n{}[1]\n```\n"
    )
    assert blocks_of(page) == [
        Block("page.md", 3, "main", "a = 1"),
        Block("page.md", 9, "scientist", "b = 2\nc = 3"),
        Block("page.md", 13, "main", "{}[1]", "KeyError"),
    ]


class Notebook:
    """One notebook: a driver process that runs blocks sent to it."""

    def __init__(self, workdir: Path) -> None:
        env = {**os.environ, "HOME": str(workdir), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("snippet_driver.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=workdir,
            env=env,
            text=True,
        )

    def run(self, block: Block, code: str) -> dict[str, Any]:
        stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        where = f"{block.page}:{block.line}"
        stdin.write(json.dumps({"code": code, "where": where}) + "\n")
        stdin.flush()
        reply = stdout.readline()
        if not reply:
            raise AssertionError(f"the notebook died running the block at {where}")
        answer: dict[str, Any] = json.loads(reply)
        return answer

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Any]:
    net = unseen.launch_network(
        "Docs Net", port=0, data_dir=tmp_path / "network", auto_approve=True,
        owner_email="net@uni.org", owner_password="net-pw-123",
    )  # fmt: skip
    yield net
    net.stop()


def _pages() -> list[Any]:
    return [pytest.param(p, id=p.name) for p in PAGES if blocks_of(p)]


def run_page(page: Path, workdir: Path, network_url: Any) -> None:
    """Run the page's blocks in order; AssertionError naming the block that failed."""
    blocks = blocks_of(page)
    url = network_url() if any(NETWORK_URL in b.code for b in blocks) else NETWORK_URL
    notebooks: dict[str, Notebook] = {}
    duet_id: str | None = None
    try:
        for block in blocks:
            code = block.code.replace(NETWORK_URL, url)
            if duet_id is not None:
                code = re.sub(r'join_duet\("[0-9a-f.]+"', f'join_duet("{duet_id}"', code)
            if block.notebook not in notebooks:
                notebooks[block.notebook] = Notebook(workdir)
            answer = notebooks[block.notebook].run(block, code)
            if block.raises is not None:
                assert answer["raised"] == block.raises, (
                    f"the block at {block.page}:{block.line} should raise {block.raises}; it "
                    f"{'raised ' + answer['raised'] if answer['raised'] else 'ran'}:\n"
                    f"{answer['error']}"
                )
                continue
            assert answer["ok"], (
                f"the block at {block.page}:{block.line} (notebook {block.notebook}) failed:\n"
                f"{answer['error']}\noutput:\n{answer['output'][-3000:]}"
            )
            printed = DUET_LINE.search(answer["output"])
            if printed:
                duet_id = printed[1]
    finally:
        for notebook in notebooks.values():
            notebook.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("```python\nx = 1\n```\n```python\nx + y\n```\n", "page.md:5 (notebook main) failed"),
        ("```python notebook=a\nx = 1\n```\n```python notebook=b\nx\n```\n", "NameError"),
        ("```python raises=KeyError\n{}.get(1)\n```\n", "should raise KeyError; it ran"),
        ("```python raises=KeyError\n[][1]\n```\n", "raised IndexError"),
    ],
)
def test_a_broken_page_fails(tmp_path: Path, text: str, message: str) -> None:
    page = tmp_path / "page.md"
    page.write_text(text)
    with pytest.raises(AssertionError, match=re.escape(message)):
        run_page(page, tmp_path, network_url=lambda: NETWORK_URL)


@pytest.mark.parametrize("page", _pages())
def test_page_runs_as_pasted(page: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    run_page(page, tmp_path, network_url=lambda: request.getfixturevalue("network").url)
