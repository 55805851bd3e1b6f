"""The owner's job settings (``code.settings``): the allowed imports and the limits apply to
every job started after a change, persist in the node's settings, and are the owner's alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from code_support import Clinic, X

import unseen
from unseen.jobs import DEFAULT_IMPORTS
from unseen.node import Node
from unseen.store import open_stores


def run(clinic: Clinic, fn: unseen.CodeFunction) -> unseen.Job:
    request = clinic.ana.code.request(fn)  # the same one again while a failed run left it unused
    if request.status == "pending":
        [r for r in clinic.owner.requests if r.id == request.id][0].accept()
    job = clinic.ana.code.run(fn).wait(60)
    clinic.owner.code.job(job.id).release_logs()
    return job


def test_an_import_removed_from_the_list_is_refused_in_the_next_job(clinic: Clinic) -> None:
    @unseen.function(data=clinic.data)
    def mean(data):  # type: ignore[no-untyped-def]
        import statistics

        return statistics.fmean(data[:, 0].tolist())

    assert np.isclose(run(clinic, mean).result.get(), X[:, 0].mean())  # allowed by default
    allowed = [m for m in DEFAULT_IMPORTS if m != "statistics"]
    shown = clinic.owner.code.settings(allowed_imports=allowed)
    assert shown["allowed_imports"] == allowed
    job = run(clinic, mean)
    assert job.status == "failed"
    assert "import of 'statistics' is not allowed" in job.logs().reason
    with pytest.raises(unseen.RemoteError, match="import of .statistics."):
        clinic.owner.requests[-1].run_on_mock()  # the owner's mock runs get them too
    clinic.owner.code.settings(allowed_imports=None)  # back to the default list
    assert np.isclose(run(clinic, mean).result.get(), X[:, 0].mean())


def test_a_lowered_limit_is_enforced(clinic: Clinic) -> None:
    @unseen.function(data=clinic.data)
    def spin(data):  # type: ignore[no-untyped-def]
        import time

        while time.process_time() < 5.0:  # 5 CPU seconds, past the lowered limit
            pass
        return data.sum()

    assert clinic.owner.code.settings(cpu_seconds=1)["cpu_seconds"] == 1.0
    job = run(clinic, spin)
    assert job.status == "failed"
    assert job.logs().reason == "CPU time limit (1 s) exceeded"


def test_a_scientist_cannot_change_or_read_them(clinic: Clinic) -> None:
    for call in (
        lambda: clinic.ana.code.settings(cpu_seconds=1000.0),
        lambda: clinic.ana.code.settings(allowed_imports=["os", "socket"]),
        lambda: clinic.ana.code.settings(),
    ):
        with pytest.raises(unseen.PermissionDenied):
            call()
    assert clinic.owner.code.settings()["allowed_imports"] == list(DEFAULT_IMPORTS)


def test_bad_settings_are_refused_with_the_setting_named(clinic: Clinic) -> None:
    cases = [
        ({"cpu_seconds": 0}, "cpu_seconds must be a positive"),
        ({"memory_bytes": 1.5}, "memory_bytes"),
        ({"allowed_imports": ["os.path"]}, "top-level module names"),
        ({"nice": 3}, "no code setting 'nice'"),
    ]
    for changes, message in cases:
        with pytest.raises(unseen.UsageError, match=message):
            clinic.owner.code.settings(**changes)
    assert clinic.owner.code.settings()["cpu_seconds"] == 60.0  # nothing changed


def test_the_settings_persist_in_the_store(tmp_path: Path) -> None:
    from unseen.client import Client
    from unseen.transport import InProcConnection

    with open_stores(None, tmp_path / "node") as stores:
        node = Node("Clinic", stores=stores)
        owner = Client(InProcConnection(node, node.add_user("owner", "owner")))
        owner.code.settings(allowed_imports=["numpy"], cpu_seconds=2)
        node.close()
    with open_stores(None, tmp_path / "node") as stores:
        again = Node("Clinic", stores=stores)
        assert again.job_settings.allowed_imports == ("numpy",)
        assert again.job_limits.cpu_seconds == 2.0
        assert again.job_limits.wall_seconds == 300.0  # the others keep their defaults
        again.close()


def test_a_stored_value_this_version_refuses_leaves_the_others(tmp_path: Path) -> None:
    with open_stores(None, tmp_path / "node") as stores:
        stores.settings.set("code", {"allowed_imports": ["numpy"], "cpu_seconds": -3, "x": 1})
        node = Node("Clinic", stores=stores)
        assert node.job_settings.allowed_imports == ("numpy",)  # not loosened to the defaults
        assert node.job_limits.cpu_seconds == 60.0
        node.close()
