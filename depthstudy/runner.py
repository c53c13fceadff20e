"""Batch execution of the ordered study notebooks with papermill (``depthstudy run``).

The runner
- discovers ``notebooks/NN_name.ipynb`` in order; a notebook needs the notebooks of the upstream
  studies of its :class:`~depthstudy.studies.specs.Study` (derived, never hand-kept in metadata);
- validates ``-p key=value`` names against each notebook's ``parameters`` cell with
  ``papermill.inspect_notebook`` (papermill itself only warns on unknown names), so a typo is an
  error that names it and lists the valid names;
- executes each notebook with kernel ``python3``, writing the executed copy to
  ``results/<profile>/notebooks/<name>.ipynb`` (renamed into place when the run ends, failed or not);
- continues past a failed notebook, skipping only the later notebooks that depend on it;
- runs up to ``jobs`` notebooks at once, each in its own worker process, starting a notebook as soon
  as the notebooks it depends on have finished, longest chain first (chain lengths from the wall
  times of the previous run's executed notebooks, else counted in notebooks); a notebook marked
  ``metadata.depthstudy.run_last`` (the report) starts after all the others and runs whatever they
  produced. With ``jobs > 1`` each
  kernel gets ``cpu_count // jobs`` threads (``OMP_NUM_THREADS``, unless already set), because two
  PyTorch processes with all cores each run 2-4x slower than with half each (README, Performance);
- tells each kernel its notebook name (``$DEPTHSTUDY_NOTEBOOK``), which the results writer records
  in ``run.json``, so outputs are attributed to the right notebook when notebooks overlap in time;
- exports an executed notebook to HTML where its metadata asks for it
  (``metadata.depthstudy.export_html: "report.html"`` -> ``results/<profile>/report.html``);
- returns one :class:`NotebookRun` per notebook; :func:`format_summary` renders the table.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class NotebookSpec:
    """One study notebook: ``name`` is the file stem, e.g. ``01_datasets``."""

    name: str
    path: Path
    depends_on: tuple[str, ...] = ()
    export_html: str | None = None
    run_last: bool = False


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
                                  bool(meta.get("run_last", False))))
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
                raise ValueError(f"{spec.path}: depends on {dep!r}, which is marked run_last (it runs after all others)")
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


def select(specs: Sequence[NotebookSpec], only: Sequence[str] | None) -> list[NotebookSpec]:
    """Notebooks named in ``only`` (full name or the part after ``NN_``), in study order."""
    if not only:
        return list(specs)
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


def run(
    profile: str,
    only: Sequence[str] | None = None,
    params: dict[str, Any] | None = None,
    *,
    notebook_dir: Path | None = None,
    results_root: Path | None = None,
    log: Callable[[str], None] = print,
    execution_timeout: int | None = None,
    jobs: int = 1,
) -> list[NotebookRun]:
    """Execute the study notebooks of ``profile`` and return their outcomes in study order.

    Args:
        jobs: notebooks executed at once (each in its own process); see the module docstring.
    Raises ``ValueError`` before running anything for an unknown profile, notebook or parameter,
    or a ``jobs`` below 1.
    """
    get_profile(profile)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    params = dict(params or {})
    if "profile" in params:
        raise ValueError("pass the profile with --profile, not -p profile=...")
    specs = select(discover(notebook_dir), only)
    accepted = check_params(specs, params)
    root = Path(results_root) if results_root else paths.results_dir()
    out_dir = root / profile / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {"DEPTHSTUDY_RESULTS": str(root)}
    if jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(kernel_threads(jobs))
    params_for = {s.name: {"profile": profile, **{k: v for k, v in params.items() if k in accepted[s.name]}}
                for s in specs}
    context = multiprocessing.get_context("spawn")  # no inherited torch/OpenMP state in workers
    with cf.ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                initargs=(env,)) as pool:
        return _schedule(specs, pool, jobs, params_for, out_dir, root / profile, log, execution_timeout)


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
            running[pool.submit(_execute, spec, params_for[spec.name], out_dir, profile_dir, timeout)] = spec
        finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
        for future in finished:
            result = future.result()
            del running[future]
            done[result.name] = result
            log(f"[{result.status:<4}] {result.name} in {result.wall_s:.1f} s"
                + (f": {result.error}" if result.error else ""))
    return [done[s.name] for s in specs]


def _execute(spec: NotebookSpec, params: dict[str, Any], out_dir: Path, profile_dir: Path,
             timeout: int | None) -> NotebookRun:
    """Run one notebook in this (worker) process; never raises for a failing notebook."""
    import papermill

    os.environ[NOTEBOOK_ENV] = spec.name
    final = out_dir / f"{spec.name}.ipynb"
    partial = out_dir / f".{spec.name}.running.ipynb"
    before = _snapshot(profile_dir)
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        papermill.execute_notebook(
            str(spec.path), str(partial), parameters=params, kernel_name=KERNEL, language="python",
            cwd=str(spec.path.parent), progress_bar=False, execution_timeout=timeout,
        )
    except Exception as exc:  # papermill raises PapermillExecutionError and kernel errors alike
        status, error = "failed", _short_error(exc)
    wall = time.perf_counter() - start
    if partial.exists():
        os.replace(partial, final)
    if status == "ok" and spec.export_html:
        from .report import export_html

        export_html(final, profile_dir / spec.export_html)
    changed = sorted(str(p.relative_to(profile_dir)) for p in _changed(profile_dir, before)
                     if p.parent != out_dir and _written_by(p, profile_dir, spec.name))
    return NotebookRun(spec.name, status, wall, final if final.exists() else None, changed, error)


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


def _short_error(exc: Exception) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return f"{ename}: {evalue}".strip().splitlines()[0][:300]


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
