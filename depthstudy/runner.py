"""Batch execution of the ordered study notebooks with papermill (``depthstudy run``).

The runner
- discovers ``notebooks/NN_name.ipynb`` in order; a notebook needs the notebooks of the upstream
  studies of its :class:`~depthstudy.studies.specs.Study` (derived, never hand-kept in metadata);
- validates ``-p key=value`` names against each notebook's ``parameters`` cell with
  ``papermill.inspect_notebook`` (papermill itself only warns on unknown names), so a typo is an
  error that names it and lists the valid names; values are type-checked against the cells'
  defaults (:func:`check_param_types`) and ``DEPTHSTUDY_*`` paths made absolute before any kernel starts;
- executes each notebook with kernel ``python3``, writing the executed copy to
  ``results/<profile>/notebooks/<name>.ipynb`` (renamed into place when the run ends, failed or not);
- continues past a failed notebook, skipping only the later notebooks that depend on it;
- runs up to ``jobs`` notebooks at once, each in its own worker process, starting a notebook as soon
  as the notebooks it depends on have finished, longest chain first (chain lengths from the wall
  times of the previous run's executed notebooks, else counted in notebooks); a notebook marked
  ``metadata.depthstudy.run_last`` (the report) starts after all the others and runs whatever they
  produced. A notebook marked ``metadata.depthstudy.extended`` (the extended studies, ``make
  extended``) runs only when named in ``only`` or with ``extended=True``. With ``jobs > 1`` each
  kernel gets ``cpu_count // jobs`` threads (``OMP_NUM_THREADS``, unless already set), because two
  PyTorch processes with all cores each run 2-4x slower than with half each (README, Performance);
- tells each kernel its notebook name (``$DEPTHSTUDY_NOTEBOOK``), which the results writer records
  in ``run.json``, so outputs are attributed to the right notebook when notebooks overlap in time;
- exports an executed notebook to HTML where its metadata asks for it
  (``metadata.depthstudy.export_html: "report.html"`` -> ``results/<profile>/report.html``);
- returns one :class:`NotebookRun` per notebook; :func:`format_summary` renders the table.

What the runner prints (plain lines, so a terminal and ``make study > log`` read the same):

- ``[run ] <name> {params}`` when a notebook starts, and ``[ok  ]`` / ``[fail]`` / ``[skip]`` when
  it ends; a failed notebook's line names the failing cell (``In [n]`` of the executed copy, its
  first source line) and the executed copy that holds the traceback;
- live progress while notebooks run (:class:`LiveProgress`): ``[....] <name> cell i/n, <elapsed>,
  <executing copy>`` whenever a notebook moves to another cell (at most every
  :data:`PROGRESS_POLL_S` seconds) and at least every :data:`PROGRESS_HEARTBEAT_S` seconds. It is
  read from the executing copy, which papermill saves at every cell start.

Kernel log (Decision X20): the kernels run with ``--IPKernelApp.log_level=CRITICAL``
(:data:`KERNEL_ARGS`). At its default level ipykernel prints two messages on every notebook that
look like failures and are not: "Kernel is running over TCP without encryption" (the kernel
listens on 127.0.0.1 ports, as every local Jupyter kernel does), and "KeyboardInterrupt caught
in kernel", because ``jupyter_client`` interrupts (SIGINT) every kernel before asking it to shut
down, also after a successful run. Errors of the notebook's own code still reach the runner:
they come back as cell outputs, not through the kernel's log.
"""

from __future__ import annotations

import ast
import concurrent.futures as cf
import json
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import nbformat
import yaml

from . import paths
from .profiles import get_profile

KERNEL = "python3"
NOTEBOOK_ENV = "DEPTHSTUDY_NOTEBOOK"
#: Extra kernel arguments: silence ipykernel's own log (module docstring, Decision X20).
KERNEL_ARGS = ("--IPKernelApp.log_level=CRITICAL",)
#: Seconds between looks at the executing copies, and the longest silence of a running notebook.
PROGRESS_POLL_S = 10.0
PROGRESS_HEARTBEAT_S = 120.0


@dataclass(frozen=True)
class NotebookSpec:
    """One study notebook: ``name`` is the file stem, e.g. ``01_datasets``."""

    name: str
    path: Path
    depends_on: tuple[str, ...] = ()
    export_html: str | None = None
    run_last: bool = False
    extended: bool = False


@dataclass
class NotebookRun:
    """Outcome of one notebook: ``status`` is ``ok``, ``failed`` or ``skipped``."""

    name: str
    status: str
    wall_s: float = 0.0
    output: Path | None = None
    outputs: list[str] = field(default_factory=list)
    error: str = ""


def discover(notebook_dir: Path | None = None) -> list[NotebookSpec]:
    """Ordered study notebooks (``NN_*.ipynb``) with the dependencies their Study specs derive."""
    from .studies.specs import notebook_dependencies

    notebook_dir = Path(notebook_dir) if notebook_dir else paths.notebooks_dir()
    derived = notebook_dependencies()
    specs = []
    for path in sorted(notebook_dir.glob("[0-9][0-9]_*.ipynb")):
        meta = nbformat.read(path, as_version=4).metadata.get("depthstudy", {})
        if "depends_on" in meta:
            raise ValueError(f"{path}: metadata.depthstudy.depends_on is no longer read; a notebook's "
                             "dependencies come from the upstream studies of its Study spec "
                             "(depthstudy/studies/specs.py)")
        specs.append(NotebookSpec(path.stem, path, derived.get(path.stem, ()), meta.get("export_html"),
                                  bool(meta.get("run_last", False)), bool(meta.get("extended", False))))
    check_dependencies(specs)
    return specs


def check_dependencies(specs: Sequence[NotebookSpec]) -> None:
    """Each (derived) ``depends_on`` entry must name an earlier notebook that is not ``run_last``.

    This keeps the dependency graph acyclic (the scheduler could otherwise wait forever) and turns
    a misspelt name into an error naming the notebook file instead of a silently met dependency.
    """
    earlier: dict[str, NotebookSpec] = {}
    for spec in specs:
        for dep in spec.depends_on:
            if dep not in earlier:
                raise ValueError(f"{spec.path}: the notebook's Study spec names {dep!r}, which is not an "
                                 f"earlier notebook; earlier ones: {', '.join(earlier) or 'none'}")
            if earlier[dep].run_last:
                raise ValueError(f"{spec.path}: depends on {dep!r}, which is marked run_last "
                                 "(it runs after all others)")
        earlier[spec.name] = spec


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are read as YAML scalars (``3`` -> int, ``x`` -> str)."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"parameter {item!r}: expected key=value")
        params[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return params


def select(specs: Sequence[NotebookSpec], only: Sequence[str] | None,
           extended: bool = False) -> list[NotebookSpec]:
    """Notebooks named in ``only`` (full name, the part after ``NN_`` or ``NN``), in study order;
    without ``only``, every notebook except the extended ones (``metadata.depthstudy.extended``),
    which ``extended`` adds."""
    if not only:
        return [s for s in specs if extended or not s.extended]
    chosen = []
    for want in only:
        match = [s for s in specs if want in (s.name, s.name[3:], s.name[:2])]
        if not match:
            raise ValueError(f"unknown notebook {want!r}; valid: {', '.join(s.name for s in specs)}")
        chosen.extend(m for m in match if m not in chosen)
    return [s for s in specs if s in chosen]


def notebook_parameters(spec: NotebookSpec) -> dict[str, Any]:
    """The parameter names and defaults of a notebook's ``parameters`` cell."""
    import papermill

    return dict(papermill.inspect_notebook(str(spec.path)))


def check_params(specs: Sequence[NotebookSpec], params: dict[str, Any]) -> dict[str, set[str]]:
    """Map notebook name -> accepted parameter names; raise if a name fits no selected notebook."""
    accepted = {s.name: set(notebook_parameters(s)) for s in specs}
    for s in specs:
        if "profile" not in accepted[s.name]:
            raise ValueError(f"notebook {s.path} has no 'profile' parameter in its parameters cell")
    valid = set().union(*accepted.values()) if accepted else set()
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for notebooks {[s.name for s in specs]}; "
            f"valid parameters: {', '.join(sorted(valid))}"
        )
    return accepted


#: Parameters whose text value must be comma-separated non-negative integers (or empty).
INTEGER_LIST_PARAMS = ("seeds",)


def check_param_types(specs: Sequence[NotebookSpec], params: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming a ``-p`` value whose type differs from the default of the
    ``parameters`` cell that receives it (Decision X17), before any kernel starts.

    An int default takes an integer, a float default a number, a bool default true/false, a text
    default any scalar (``seeds`` text must read as comma-separated integers); a default that is
    not a literal (e.g. ``os.environ.get(...)``) is not checked.
    """
    for spec in specs:
        for name, info in notebook_parameters(spec).items():
            if name in params:
                problem = _type_problem(name, params[name], info.get("default", ""))
                if problem:
                    raise ValueError(f"-p {name}={params[name]!r}: {problem} ({spec.name}: "
                                     f"{name} = {info.get('default')}  # {info.get('help', '')})")


def _type_problem(name: str, value: Any, default_source: str) -> str:
    try:
        default = ast.literal_eval(default_source)
    except (ValueError, SyntaxError):
        return ""
    if isinstance(default, bool):
        return "" if isinstance(value, bool) else "expected true or false"
    if isinstance(default, int):
        return "" if isinstance(value, int) and not isinstance(value, bool) else "expected an integer"
    if isinstance(default, float):
        return "" if isinstance(value, (int, float)) and not isinstance(value, bool) else "expected a number"
    if isinstance(default, str):
        if isinstance(value, (bool, list, dict)) or value is None:
            return "expected a text value"
        parts = [p.strip() for p in str(value).split(",") if p.strip()]
        if name in INTEGER_LIST_PARAMS and not all(p.isdigit() for p in parts):
            return "expected comma-separated non-negative integers such as 0,1,2 (empty: the profile's)"
    return ""


def run(
    profile: str,
    only: Sequence[str] | None = None,
    params: dict[str, Any] | None = None,
    *,
    notebook_dir: Path | None = None,
    results_root: Path | None = None,
    log: Callable[[str], None] | None = None,
    execution_timeout: int | None = None,
    jobs: int = 1,
    extended: bool = False,
) -> list[NotebookRun]:
    """Execute the study notebooks of ``profile`` and return their outcomes in study order.

    Args:
        jobs: notebooks executed at once (each in its own process); see the module docstring.
        extended: without ``only``, also run the extended studies (notebooks marked
            ``metadata.depthstudy.extended``; ``make extended``), which a plain run leaves out.
    Raises ``ValueError`` before running anything for an unknown profile, notebook or parameter,
    or a ``jobs`` below 1. ``log`` receives every line (default: print and flush, so progress
    reaches a log file as it happens).
    """
    get_profile(profile)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    params = dict(params or {})
    if "profile" in params:
        raise ValueError("pass the profile with --profile, not -p profile=...")
    specs = select(discover(notebook_dir), only, extended)
    accepted = check_params(specs, params)
    check_param_types(specs, params)
    env_paths = paths.absolute_env_paths()  # kernels run in notebooks/: no relative paths (Decision X14)
    root = (Path(results_root) if results_root else paths.results_dir()).absolute()
    out_dir = root / profile / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**env_paths, "DEPTHSTUDY_RESULTS": str(root)}
    if jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(kernel_threads(jobs))
    params_for = {s.name: {"profile": profile, **{k: v for k, v in params.items() if k in accepted[s.name]}}
                for s in specs}
    context = multiprocessing.get_context("spawn")  # no inherited torch/OpenMP state in workers
    pool = cf.ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(env,))
    try:
        runs = _schedule(specs, pool, jobs, params_for, out_dir, root / profile, log or _print,
                         execution_timeout)
    except KeyboardInterrupt:
        _stop_workers(pool)
        _remove_partials(out_dir, specs)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return attribute_outputs(runs, root / profile)


def _print(line: str) -> None:
    print(line, flush=True)


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """Terminate the workers of an interrupted run at once (their kernels exit with them)."""
    processes = getattr(pool, "_processes", None) or {}  # no public API before Python 3.14
    for process in list(processes.values()):
        process.terminate()


def _remove_partials(out_dir: Path, specs: Sequence[NotebookSpec]) -> None:
    """Delete the hidden partial copies of interrupted notebooks; their last complete executed
    copies stay (Decision X16)."""
    for spec in specs:
        _partial_path(out_dir, spec).unlink(missing_ok=True)


def _partial_path(out_dir: Path, spec: NotebookSpec) -> Path:
    return out_dir / f".{spec.name}.running.ipynb"


def chain_lengths(specs: Sequence[NotebookSpec], durations: dict[str, float]) -> dict[str, float]:
    """Per notebook: its duration plus the longest chain of selected notebooks that depend on it.

    ``durations`` in seconds (missing ones count 1), so starting the longest chains first keeps
    every job busy until the end.
    """
    lengths: dict[str, float] = {}
    for spec in reversed(list(specs)):  # dependents come later in study order
        below = [lengths[c.name] for c in specs if spec.name in c.depends_on and c.name in lengths]
        lengths[spec.name] = durations.get(spec.name, 1.0) + max(below, default=0.0)
    return lengths


def previous_durations(out_dir: Path) -> dict[str, float]:
    """Wall seconds of each notebook in its last executed copy under ``out_dir`` (papermill metadata)."""
    found = {}
    for path in Path(out_dir).glob("[0-9][0-9]_*.ipynb"):
        try:
            duration = nbformat.read(path, as_version=4).metadata.get("papermill", {}).get("duration")
        except (OSError, ValueError):
            continue
        if isinstance(duration, (int, float)):
            found[path.stem] = float(duration)
    return found


def _init_worker(env: dict[str, str]) -> None:
    """Worker setup: the run's environment, and exit when the runner process goes away (a killed
    ``depthstudy run`` leaves no workers behind; their kernels exit with them)."""
    os.environ.update(env)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int, poll_s: float = 1.0) -> None:
    while os.getppid() == parent:
        time.sleep(poll_s)
    os._exit(1)


def kernel_threads(jobs: int) -> int:
    """Threads per kernel when ``jobs`` notebooks share this machine's cores (at least 1)."""
    return max(1, (os.cpu_count() or 1) // jobs)


def _schedule(specs, pool, jobs, params_for, out_dir, profile_dir, log, timeout) -> list[NotebookRun]:
    """Start each notebook when its dependencies have finished, at most ``jobs`` at a time."""
    selected = {s.name for s in specs}
    done: dict[str, NotebookRun] = {}
    lengths = chain_lengths(specs, previous_durations(out_dir))
    pending = sorted(specs, key=lambda s: -lengths[s.name])  # stable: study order among equals
    running: dict[cf.Future, NotebookSpec] = {}
    progress = LiveProgress(out_dir)
    while pending or running:
        for spec in list(pending):
            blockers = [d for d in spec.depends_on if d in done and done[d].status != "ok"]
            if blockers and not spec.run_last:
                pending.remove(spec)
                done[spec.name] = NotebookRun(spec.name, "skipped", error=f"needs {', '.join(blockers)}")
                log(f"[skip] {spec.name}: needs {', '.join(blockers)}")
                continue
            waits_for = {d for d in spec.depends_on if d in selected} - set(done)
            if spec.run_last:
                waits_for |= {s.name for s in specs if not s.run_last} - set(done)
            if waits_for or len(running) >= jobs:
                continue
            pending.remove(spec)
            log(f"[run ] {spec.name} {params_for[spec.name]}")
            progress.start(spec.name)
            running[pool.submit(_execute, spec, params_for[spec.name], out_dir, profile_dir, timeout)] = spec
        finished, _ = cf.wait(running, timeout=PROGRESS_POLL_S, return_when=cf.FIRST_COMPLETED)
        for future in finished:
            result = future.result()
            del running[future]
            done[result.name] = result
            log(finish_line(result))
        for line in progress.lines([s.name for s in running.values()]):
            log(line)
    return [done[s.name] for s in specs]


def _execute(spec: NotebookSpec, params: dict[str, Any], out_dir: Path, profile_dir: Path,
             timeout: int | None) -> NotebookRun:
    """Run one notebook in this (worker) process; never raises for a failing notebook."""
    import papermill

    os.environ[NOTEBOOK_ENV] = spec.name
    final = out_dir / f"{spec.name}.ipynb"
    partial = _partial_path(out_dir, spec)
    before = _snapshot(profile_dir)
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        papermill.execute_notebook(
            str(spec.path), str(partial), parameters=params, kernel_name=KERNEL, language="python",
            cwd=str(spec.path.parent), progress_bar=False, execution_timeout=timeout,
            extra_arguments=list(KERNEL_ARGS),
        )
    except KeyboardInterrupt:
        partial.unlink(missing_ok=True)
        raise
    except Exception as exc:  # papermill raises PapermillExecutionError and kernel errors alike
        status, error = "failed", _short_error(exc, timeout)
    wall = time.perf_counter() - start
    if error.startswith("KeyboardInterrupt"):
        partial.unlink(missing_ok=True)  # an interrupted kernel: keep the last complete copy
    install_error = _install_executed(partial, final)
    if install_error:
        status, error = "failed", "; ".join(filter(None, [error, install_error]))
    if status == "ok" and spec.export_html:
        from .report import export_html

        export_html(final, profile_dir / spec.export_html)
    changed = sorted(str(p.relative_to(profile_dir)) for p in _changed(profile_dir, before) if p.parent != out_dir)
    return NotebookRun(spec.name, status, wall, final if final.exists() else None, changed, error)


def attribute_outputs(runs: Sequence[NotebookRun], profile_dir: Path) -> list[NotebookRun]:
    """Keep in each run's ``outputs`` only the files it wrote, judged once every notebook has ended.

    A worker lists every file that changed under ``results/<profile>/`` while its notebook ran; with
    ``jobs > 1`` that includes files of notebooks running at the same time. A file in a study
    folder belongs to the notebook named in that folder's ``run.json``; read at the end, this also
    covers a folder whose ``run.json`` did not exist yet when an overlapping notebook finished.
    Files outside study folders, and study folders without ``run.json`` even at the end (a failed
    study), stay with every run that saw them change. Hidden staging folders (``.<study>.partial``,
    Decision X10) are never outputs: their files end up in the study folder they were swapped into.
    """
    for r in runs:
        r.outputs = [o for o in r.outputs if not o.startswith(".")
                     and _written_by(profile_dir / o, profile_dir, r.name)]
    return list(runs)


def _install_executed(partial: Path, final: Path) -> str:
    """Rename a readable ``partial`` executed notebook onto ``final`` after an fsync; return an
    error naming the files when ``partial`` is unreadable (e.g. truncated on a full disk), in which
    case ``final`` keeps its previous copy (Decision X11). Papermill's absolute ``input_path`` and
    ``output_path`` are replaced by ``notebooks/<name>.ipynb`` and the path below the results root,
    so an executed copy names no folder of the machine it ran on."""
    if not partial.exists():
        return ""
    try:
        nb = nbformat.read(partial, as_version=4)
        record = nb.metadata.get("papermill", {})
        record.update(input_path=f"notebooks/{final.name}",
                      output_path=str(final.relative_to(final.parents[2])))
        nbformat.write(nb, partial)
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
    except (OSError, ValueError) as err:
        partial.unlink(missing_ok=True)
        kept = f"the previous {final} is kept" if final.exists() else f"no {final} was written"
        return f"the executed notebook could not be written completely ({type(err).__name__}; disk full?); {kept}"
    os.replace(partial, final)
    return ""


def _written_by(path: Path, profile_dir: Path, notebook: str) -> bool:
    """False when the study folder holding ``path`` records another notebook in its ``run.json``."""
    parts = path.relative_to(profile_dir).parts
    record = profile_dir / parts[0] / "run.json"
    if len(parts) < 2 or not record.is_file():
        return True
    try:
        owner = json.loads(record.read_text()).get("notebook")
    except (OSError, ValueError):
        return True
    return owner in (None, notebook)


def _snapshot(folder: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


def _changed(folder: Path, before: dict[Path, float]) -> list[Path]:
    return [p for p, m in _snapshot(folder).items() if before.get(p) != m]


def _short_error(exc: Exception, timeout: int | None = None) -> str:
    """``ename: evalue`` (first line), prefixed with the failing cell for a notebook error."""
    if isinstance(exc, TimeoutError) and timeout:
        return f"a cell ran longer than --timeout {timeout} s and was stopped"
    if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
        return f"{type(exc).__name__}: {exc.strerror} while writing the executed notebook"
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    message = f"{ename}: {evalue}".strip().splitlines()[0][:300]
    return f"{failing_cell(exc)}: {message}" if hasattr(exc, "exec_count") else message


def failing_cell(exc: Exception) -> str:
    """``cell In [n] "first source line"`` of a ``PapermillExecutionError`` (``n`` as the executed
    copy numbers it; the injected-parameters cell counts)."""
    source = next((line.strip() for line in str(getattr(exc, "source", "")).splitlines() if line.strip()), "")
    source = source if len(source) <= 60 else source[:57] + "..."
    return f'cell In [{getattr(exc, "exec_count", "?")}] "{source}"'


def finish_line(result: NotebookRun) -> str:
    """The log line of a finished notebook; a failed one also names its executed copy."""
    line = f"[{result.status:<4}] {result.name} in {result.wall_s:.1f} s"
    line += f": {result.error}" if result.error else ""
    if result.status == "failed" and result.output is not None:
        line += f" (traceback in {_shown_path(result.output)})"
    return line


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when below it (shorter lines), else as is."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def notebook_progress(path: Path) -> tuple[int, int] | None:
    """(current code cell, code cells) of an executing copy written by papermill, or None while
    it is unreadable (not written yet, or caught mid-save). The current cell is the one papermill
    marks ``running``, else the count of completed ones; both count the injected-parameters cell."""
    try:
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    except (OSError, ValueError, AttributeError):
        return None
    status = [c.metadata.get("papermill", {}).get("status") for c in cells]
    current = status.index("running") + 1 if "running" in status else status.count("completed")
    return current, len(cells)


@dataclass
class LiveProgress:
    """Progress lines of the running notebooks, read from their executing copies in ``out_dir``."""

    out_dir: Path
    heartbeat_s: float = PROGRESS_HEARTBEAT_S
    started: dict[str, float] = field(default_factory=dict)
    shown: dict[str, tuple[tuple[int, int] | None, float]] = field(default_factory=dict)

    def start(self, name: str) -> None:
        self.started[name] = time.monotonic()
        self.shown[name] = (None, self.started[name])

    def lines(self, running: Iterable[str]) -> list[str]:
        """One line per running notebook whose cell changed or that was silent for ``heartbeat_s``."""
        out, now = [], time.monotonic()
        for name in running:
            partial = self.out_dir / f".{name}.running.ipynb"
            state = notebook_progress(partial)
            last_state, last_time = self.shown.get(name, (None, 0.0))
            if state is None or (state == last_state and now - last_time < self.heartbeat_s):
                continue
            self.shown[name] = (state, now)
            elapsed = _duration(now - self.started.get(name, now))
            out.append(f"[....] {name} cell {state[0]}/{state[1]}, {elapsed}, executing copy {_shown_path(partial)}")
        return out


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def format_summary(runs: Sequence[NotebookRun]) -> str:
    """A plain-text table: notebook, status, wall time, outputs written."""
    rows = [("notebook", "status", "wall [s]", "outputs")]
    for r in runs:
        outputs = ", ".join(sorted({o.split("/")[0] for o in r.outputs})) or "-"
        status = r.status if not r.error else f"{r.status} ({r.error})"
        rows.append((r.name, status[:80], f"{r.wall_s:.1f}", outputs))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    counts = {k: sum(r.status == k for r in runs) for k in ("ok", "failed", "skipped")}
    lines.append("notebooks: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return "\n".join(lines)
