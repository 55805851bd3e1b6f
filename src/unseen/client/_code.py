"""Code requests from the scientist's side: ``@unseen.function``, ``client.code`` and ``Job``.

``@unseen.function(data=ptr)`` turns a function into a :class:`CodeFunction`: its source
(dedented, without the decorator), the pointers it declares as inputs, and the hash that an
approval pins (:func:`unseen.messages.code.code_hash`). ``fn.run_on_mock()`` runs it here, on
the inputs' mocks (public data, the scientist's own code). ``client.code.request(fn)`` submits
it for review; once the owner accepts, ``client.code.run(fn)`` (or ``fn(data=ptr)``) starts a
job on the node, a :class:`Job`.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import textwrap
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from unseen.client._waiting import waiting
from unseen.errors import NotFound, RemoteError, RequestTimeout, UsageError
from unseen.messages.code import (
    CODE_REQUEST,
    CODE_SETTINGS,
    JOB_CANCEL,
    JOB_GET,
    JOB_LIST,
    JOB_LOGS,
    JOB_RELEASE_LOGS,
    JOB_RUN,
    JOB_WAIT,
    OUTPUT_VALUE,
    CodeInput,
    CodeRequestRequest,
    CodeSettingsRequest,
    CodeView,
    JobCancelRequest,
    JobGetRequest,
    JobListRequest,
    JobLogs,
    JobLogsRequest,
    JobReleaseLogsRequest,
    JobRunRequest,
    JobView,
    JobWaitRequest,
    code_hash,
    dp_output,
    output_epsilon,
)
from unseen.messages.objects import OBJECT_INFO, ObjectIdRequest

if TYPE_CHECKING:
    from unseen.client._client import Client
    from unseen.client._pointer import Pointer
    from unseen.client._views import Request

__all__ = ["CodeFunction", "CodeReview", "CodeRequests", "Job", "function"]

#: seconds of one job.wait message; longer waits send several
WAIT_STEP_S = 30.0


def _source_of(fn: Callable[..., Any]) -> str:
    """The function's ``def``, dedented, without its decorators."""
    try:
        text = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        raise UsageError(
            f"the source of {getattr(fn, '__name__', fn)!r} cannot be read: define it in a file "
            "or a notebook cell (not in an interactive prompt or with exec)"
        ) from None
    tree = ast.parse(text)
    found = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == fn.__name__), None
    )
    if found is None or found.end_lineno is None:
        raise UsageError(f"{fn.__name__!r} must be a plain function (def), not a lambda")
    lines = text.splitlines()[found.lineno - 1 : found.end_lineno]
    return "\n".join(lines) + "\n"


def _run_source(name: str, source: str, inputs: dict[str, Any]) -> Any:
    namespace: dict[str, Any] = {"__name__": f"unseen_code_{name}"}
    exec(compile(source, f"<{name}>", "exec"), namespace)  # noqa: S102  (the caller's own code)
    return namespace[name](**inputs)


class CodeFunction:
    """A function declared for a code request, with its inputs on a node (see the module)."""

    def __init__(
        self, fn: Callable[..., Any], inputs: dict[str, Pointer], dp_epsilon: float | None = None
    ) -> None:
        from unseen.client._pointer import Pointer

        if not callable(fn) or not hasattr(fn, "__name__"):
            raise UsageError("@unseen.function(...) decorates a function (def)")
        if not inputs:
            raise UsageError(
                "declare the function's inputs: @unseen.function(data=pointer) names a "
                "parameter and the pointer to the asset or object it gets on the node"
            )
        for name, value in inputs.items():
            if not isinstance(value, Pointer):
                raise UsageError(
                    f"the input {name!r} must be a pointer to data on the node (from "
                    f"client.search(...) or a computation), not {type(value).__name__}"
                )
        clients = {id(p.client) for p in inputs.values()}
        if len(clients) != 1:
            raise UsageError("every input must point to the same node (one client)")
        parameters = inspect.signature(fn).parameters
        unknown = [n for n in inputs if n not in parameters]
        if unknown:
            raise UsageError(f"{fn.__name__}() has no parameter {unknown[0]!r} to declare")
        missing = [
            n
            for n, p in parameters.items()
            if n not in inputs
            and p.default is p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if missing:
            raise UsageError(
                f"the parameter {missing[0]!r} of {fn.__name__}() is not declared: "
                f"@unseen.function({missing[0]}=pointer, ...)"
            )
        self.name: str = fn.__name__
        self.source: str = _source_of(fn)
        self.inputs: dict[str, Pointer] = dict(inputs)
        if dp_epsilon is not None:
            if isinstance(dp_epsilon, bool) or not isinstance(dp_epsilon, int | float):
                raise UsageError(f"dp_epsilon must be a number, got {dp_epsilon!r}")
            if not math.isfinite(dp_epsilon) or dp_epsilon <= 0:
                raise UsageError(f"dp_epsilon must be a finite number > 0, got {dp_epsilon!r}")
        #: the epsilon of a DP output (the code makes its value epsilon-DP), None for a value
        self.dp_epsilon: float | None = None if dp_epsilon is None else float(dp_epsilon)
        self.output: str = OUTPUT_VALUE if dp_epsilon is None else dp_output(dp_epsilon)
        self.__doc__ = fn.__doc__

    @property
    def client(self) -> Client:
        return next(iter(self.inputs.values())).client

    @property
    def code_inputs(self) -> list[CodeInput]:
        # the node labels assets with their dataset's and their own name
        return [CodeInput(name=n, object_id=p.id) for n, p in self.inputs.items()]

    @property
    def hash(self) -> str:
        """sha256 of the source, the inputs' ids and the output: what an approval pins."""
        return code_hash(self.name, self.source, self.code_inputs, self.output)

    def run_on_mock(self) -> Any:
        """Run the function here, now, on the mocks of its inputs (public data), and return
        its value."""
        return _run_source(self.name, self.source, {n: p.mock for n, p in self.inputs.items()})

    def __call__(self, **inputs: Any) -> Job:
        """Start a job of the approved function on the node (``client.code.run(fn)``); the
        inputs given must be the declared ones."""
        for name, value in inputs.items():
            declared = self.inputs.get(name)
            if declared is None or getattr(value, "id", None) != declared.id:
                raise UsageError(
                    f"{self.name}({name}=...) is not the declared input: an approval holds for "
                    "the declared pointers only (fn.run_on_mock() runs on the mocks)"
                )
        return self.client.code.run(self)

    def __repr__(self) -> str:
        names = ", ".join(self.inputs)
        return f"<unseen.function {self.name}({names}) {self.hash[:12]}>"


def function(
    *, dp_epsilon: float | None = None, **inputs: Pointer
) -> Callable[[Callable[..., Any]], CodeFunction]:
    """Declare a function for a code request: ``@unseen.function(data=pointer)``; each
    keyword names a parameter and the pointer whose value it gets when the job runs.

    ``dp_epsilon`` declares the function's value epsilon-DP (its code adds the noise, e.g.
    with OpenDP, which the owner checks in review): each run is charged that epsilon to
    your privacy budget before it starts, and the value is then yours to read as often as
    you like. It is part of the hash: another epsilon is another request."""

    def declare(fn: Callable[..., Any]) -> CodeFunction:
        return CodeFunction(fn, inputs, dp_epsilon)

    return declare


class CodeReview:
    """A code request's submission as the owner reviews it: ``source``, ``inputs``,
    ``hash``, and ``diff`` against the scientist's earlier version (syntax-highlighted in
    notebooks)."""

    def __init__(self, view: CodeView) -> None:
        self.view = view
        self.function = view.function
        self.source = view.source
        self.inputs = list(view.inputs)
        self.output = view.output
        self.hash = view.hash
        self.diff = view.diff

    def __str__(self) -> str:
        inputs = "\n".join(f"  {i.name} = {i.label or '-'} ({i.object_id})" for i in self.inputs)
        diff = f"\nChanges since the earlier version:\n{self.diff}" if self.diff else ""
        output = self.describe_output()
        return f"{self.source}\nInputs:\n{inputs}\nOutput: {output}\nHash: {self.hash}{diff}"

    def describe_output(self) -> str:
        """The declared output in words; for a DP output, what the owner must check."""
        epsilon = output_epsilon(self.output)
        if epsilon is None:
            return "the value (released once to the scientist)"
        check = "" if "opendp" in self.source else " NOTE: the source never mentions opendp."
        return (
            f"a DP value at epsilon {epsilon:g}, charged to the scientist's budget when it "
            "runs and then theirs to read: accept only if the code makes its value "
            f"{epsilon:g}-DP (e.g. with OpenDP), whatever the data.{check}"
        )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        import html

        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import DiffLexer, PythonLexer

            formatter = HtmlFormatter(noclasses=True)
            source = highlight(self.source, PythonLexer(), formatter)
            diff = highlight(self.diff, DiffLexer(), formatter) if self.diff else ""
        except ImportError:
            source = f"<pre>{html.escape(self.source)}</pre>"
            diff = f"<pre>{html.escape(self.diff)}</pre>" if self.diff else ""
        rows = "".join(
            f"<li><code>{html.escape(i.name)}</code>: {html.escape(i.label or i.object_id)}</li>"
            for i in self.inputs
        )
        output = f"<p>Output: {html.escape(self.describe_output())}</p>"
        return (
            f"{source}<p>Inputs:</p><ul>{rows}</ul>{output}<p>Hash: <code>{self.hash}</code></p>"
            + (f"<p>Changes since the earlier version:</p>{diff}" if diff else "")
        )


class Job:
    """A run of an approved function on the node. ``status`` asks the node;
    ``wait(progress=True)``, ``result`` (a pointer, released once), ``logs()`` (once the
    owner released them), ``cancel()``; the owner's ``release_logs()``."""

    def __init__(self, client: Client, view: JobView) -> None:
        self._client = client
        self._view = view

    @property
    def id(self) -> str:
        return self._view.id

    @property
    def view(self) -> JobView:
        return self._view

    def refresh(self) -> Job:
        self._view = self._client.ask(JOB_GET, JobGetRequest(id=self.id))
        return self

    @property
    def status(self) -> str:
        """``"running"``, ``"done"``, ``"failed"`` or ``"cancelled"``, as the node says now."""
        return self.refresh()._view.status

    def wait(self, timeout: float | None = None, *, progress: bool = False) -> Job:
        """Block until the job ends (or ``timeout`` seconds pass: ``RequestTimeout``).
        ``progress=True`` shows the elapsed time while it runs (in notebooks and terminals)."""
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        what = f"job {self._view.function} ({self.id[:8]})"
        with waiting(what) if progress else _nothing():
            while True:
                left = (
                    WAIT_STEP_S
                    if deadline is None
                    else min(WAIT_STEP_S, deadline - time.monotonic())
                )
                self._view = self._client.ask(
                    JOB_WAIT, JobWaitRequest(id=self.id, timeout=max(0.0, left))
                )
                if self._view.status != "running":
                    return self
                if deadline is not None and time.monotonic() >= deadline:
                    raise RequestTimeout(
                        f"{what} is still running after {timeout:g} s; it goes on: "
                        "job.wait() again, or job.cancel()"
                    )

    @property
    def result(self) -> Pointer:
        """A pointer to the function's value on the node (``.get()`` releases it once)."""
        view = self._view if self._view.status != "running" else self.refresh()._view
        if view.status == "running":
            raise UsageError(f"job {view.function} is still running: job.wait() first")
        if view.status != "done" or view.result_id is None:
            why = f" ({view.reason})" if view.reason else ""
            raise RemoteError(
                f"job {view.function} {view.status}{why}; its logs say why, once the owner "
                "released them: job.logs()"
            )
        return self._client._pointer_from_info(
            self._client.ask(OBJECT_INFO, ObjectIdRequest(id=view.result_id))
        )

    def logs(self) -> JobLogs:
        """stdout, stderr and why it failed: refused (CannotRequestPrivateData) until the
        owner releases them, since they derive from the private inputs."""
        return self._client.ask(JOB_LOGS, JobLogsRequest(id=self.id))

    def cancel(self) -> Job:
        self._view = self._client.ask(JOB_CANCEL, JobCancelRequest(id=self.id))
        return self

    def release_logs(self) -> Job:
        """Let the scientist who ran the job read its logs (owners and admins)."""
        self._view = self._client.ask(JOB_RELEASE_LOGS, JobReleaseLogsRequest(id=self.id))
        return self

    def __repr__(self) -> str:
        v = self._view
        why = f" ({v.reason})" if v.reason else ""
        return f"<Job {v.function} {v.id[:8]}: {v.status}{why}>"


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class CodeRequests:
    """``client.code``: submit functions for review, run approved ones, list jobs."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _check(self, fn: CodeFunction) -> None:
        if not isinstance(fn, CodeFunction):
            raise UsageError("pass a function declared with @unseen.function(data=pointer)")
        if fn.client.node_id != self._client.node_id:
            raise UsageError(f"{fn.name}'s inputs are on another node than this client's")

    def request(self, fn: CodeFunction, reason: str = "") -> Request:
        """Submit ``fn`` for the owner's review; nothing runs yet. Returns the request."""
        from unseen.client._views import Request

        self._check(fn)
        for pointer in fn.inputs.values():
            if not pointer._vertex.materialized:
                self._client._run([pointer], get=False)  # a computed input is kept first
        submission = CodeRequestRequest(
            function=fn.name, source=fn.source, inputs=fn.code_inputs, output=fn.output,
            hash=fn.hash, reason=reason,
        )  # fmt: skip
        return Request(self._client, self._client.ask(CODE_REQUEST, submission))

    def run(self, fn: CodeFunction) -> Job:
        """Start a job of ``fn`` on its inputs' private values; refused unless the owner
        accepted a request for exactly this function (hash)."""
        self._check(fn)
        return Job(self._client, self._client.ask(JOB_RUN, JobRunRequest(hash=fn.hash)))

    @property
    def jobs(self) -> list[Job]:
        """Jobs, oldest first: your own (owners and admins: all)."""
        return [Job(self._client, v) for v in self._client.ask(JOB_LIST, JobListRequest())]

    def settings(self, **changes: Any) -> dict[str, Any]:
        """The node's job settings (owners and admins), as a map: ``allowed_imports`` (the
        modules a job's code may import) and the limits ``cpu_seconds``, ``wall_seconds``,
        ``memory_bytes``, ``file_bytes``, ``processes``, ``output_bytes``. Keywords change
        them for every job started from now on (None: back to the default)."""
        names = [f.name for f in dataclasses.fields(CodeSettingsRequest)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise UsageError(
                f"no code setting {unknown[0]!r}: the settings are {', '.join(sorted(names))}"
            )
        if isinstance(changes.get("allowed_imports"), tuple):
            changes["allowed_imports"] = list(changes["allowed_imports"])
        request = CodeSettingsRequest(**changes)
        return dataclasses.asdict(self._client.ask(CODE_SETTINGS, request))

    def job(self, job_id: str) -> Job:
        """A job by id (yours, or any for owners and admins)."""
        try:
            return Job(self._client, self._client.ask(JOB_GET, JobGetRequest(id=job_id)))
        except NotFound:
            raise NotFound(f"no job with id {job_id!r}") from None
