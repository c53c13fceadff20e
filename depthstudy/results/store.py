"""Writing and reading ``results/<profile>/<study>/``: metrics, summary, provenance, figures.

Layout::

    results/<profile>/<study>/metrics.csv   one row per number (METRICS_COLUMNS)
    results/<profile>/<study>/summary.csv   mean/std over seeds + the published value (SUMMARY_COLUMNS)
    results/<profile>/<study>/run.json      provenance (depthstudy.provenance)
    results/<profile>/<study>/figures/      PNG/SVG

Every file is written atomically (temporary file, fsync, then rename). A run writes into the hidden
staging folder ``results/<profile>/.<study>.partial/`` and :meth:`StudyWriter.finish` swaps it in
for the study folder, so a rerun that is killed or fails leaves the previous complete study as it
was (Decision X10). :func:`load` refuses a study folder whose files disagree (no ``run.json``, or
a row count other than ``run.json`` records) with :class:`IncompleteStudyError`. Nothing NaN or
infinite is written:
:meth:`StudyWriter.add` refuses it; the only empty cells are ``paper`` where the papers
publish no value for the cell.
"""

from __future__ import annotations

import json
import operator
import os
import shutil
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from depthstudy import io, paths
from depthstudy.provenance import provenance
from depthstudy.results.paper import PAPER_STUDIES, load_paper
from depthstudy.results.schema import (
    KEY_COLUMNS,
    METRIC_KEYS,
    METRICS_COLUMNS,
    SUMMARY_COLUMNS,
    check_depth_range,
    check_name,
    check_variant,
    finite_value,
)

FILES = {"metrics": "metrics.csv", "summary": "summary.csv", "run": "run.json"}
#: Folders of results/ that are not profiles.
RESERVED_PROFILES = ("paper", "bench")
TABLES_DIR = "tables"
#: dots per inch of saved raster figures unless save_figure is told otherwise (Decision X23).
FIGURE_DPI = 150
_JOIN = ["study", "variant", "depth_range", "metric"]


def is_main_process() -> bool:
    """True on the process that writes results (rank 0 under torchrun, or a plain process)."""
    try:
        from depthstudy.engine.distributed import is_main_process as engine_is_main
    except ImportError:
        return int(os.environ.get("RANK", "0")) == 0
    return bool(engine_is_main())


class IncompleteStudyError(FileNotFoundError):
    """A study folder whose files do not form one finished run (treated like a missing study)."""


def staging_dir(study_dir: Path) -> Path:
    """The hidden folder where a run of ``study_dir`` writes until ``finish`` swaps it in."""
    return study_dir.with_name(f".{study_dir.name}.partial")


def incomplete_reason(study_dir: Path) -> str | None:
    """Why ``study_dir`` is not one finished run, or None when its files agree.

    Finished means: ``metrics.csv``, ``summary.csv`` and ``run.json`` present, and the number of
    rows of ``metrics.csv`` equal to ``run.json``'s ``n_rows`` (when recorded).
    """
    missing = [name for name in FILES.values() if not (study_dir / name).is_file()]
    if missing:
        return f"{', '.join(missing)} missing (the run did not finish)"
    try:
        n_rows = json.loads((study_dir / FILES["run"]).read_text(encoding="utf-8")).get("n_rows")
        with open(study_dir / FILES["metrics"], encoding="utf-8") as f:
            rows = sum(1 for line in f if line.strip()) - 1
    except (OSError, ValueError, AttributeError) as err:
        return f"unreadable files ({type(err).__name__}: {err})"
    if n_rows is not None and rows != n_rows:
        return f"metrics.csv holds {rows} rows but run.json records {n_rows} (files of different runs)"
    return None


def _produce_hint(profile: str, study: str | None) -> str:
    which = (f" (the notebook that writes study '{study}'; `--only NAME` runs just that one)"
             if study else "")
    return f"produce it with `depthstudy run --profile {profile}`{which}"


def _evaluation_resolution(profile: str, protocol: str) -> dict[str, str] | None:
    """Input, depth and semantic evaluation sizes of a named profile's test set under ``protocol``
    (:func:`depthstudy.data.factory.evaluation_resolution`), or None for a profile name that is
    not a named profile (tests). Read from the named profile's fields, not a notebook's overrides."""
    from depthstudy.data.factory import evaluation_resolution
    from depthstudy.profiles import PROFILES

    return evaluation_resolution(PROFILES[profile], protocol) if profile in PROFILES else None


class StudyWriter:
    """Collects the numbers of one study run in one profile and writes its results folder.

    ``add`` appends rows and rewrites ``metrics.csv`` at once, so a run that crashes mid-study keeps
    everything already computed; with ``resume=True`` a new writer starts from that file and
    :meth:`done` tells which (variant, seed) pairs can be skipped. Under torchrun only the main
    process writes; other ranks keep their rows in memory and ``finish`` returns ``{}`` there.
    Rows must be gathered to rank 0 before ``add`` if every rank evaluates a shard.
    """

    def __init__(self, study: str, profile: str, *, root: Path | None = None, dataset: str,
                 protocol: str, params: dict, dataset_info: Mapping[str, Any] | None = None,
                 device: str | None = None, resume: bool = False) -> None:
        self.study = check_name("study", study)
        self.profile = check_name("profile", profile)
        if profile in RESERVED_PROFILES:
            raise ValueError(f"profile {profile!r} is reserved (results/{profile}/ is not a profile)")
        self.dataset = check_name("dataset", dataset)
        self.protocol = check_name("protocol", protocol)
        if not isinstance(params, dict):
            raise ValueError(f"params must be a dict, got {type(params).__name__}")
        self.params = params
        self.dataset_info = dict(dataset_info or {})
        self.device = device
        self.dir = Path(root if root is not None else paths.results_dir()) / profile / study
        self.started = datetime.now(timezone.utc)
        self._rows: list[dict[str, Any]] = []
        self._keys: set[tuple] = set()
        self._finished = False
        staged = staging_dir(self.dir) / FILES["metrics"]
        if not resume and is_main_process():
            shutil.rmtree(staging_dir(self.dir), ignore_errors=True)  # a killed run's leftovers
        if resume:
            source = staged if staged.is_file() else self.dir / FILES["metrics"]
            if source.is_file():
                self.add_frame(read_metrics(source))

    @property
    def write_dir(self) -> Path:
        """Where files go now: the staging folder until :meth:`finish`, then the study folder."""
        return self.dir if self._finished else staging_dir(self.dir)

    @property
    def figures_dir(self) -> Path:
        """``figures/`` of :attr:`write_dir` (created on first use by the main process)."""
        folder = self.write_dir / "figures"
        if is_main_process():
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def rows(self) -> pd.DataFrame:
        """The rows added so far (METRICS_COLUMNS)."""
        return pd.DataFrame(self._rows, columns=METRICS_COLUMNS)

    def done(self, variant: str, seed: int) -> bool:
        """Whether any row of (variant, seed) is already recorded (e.g. after ``resume=True``)."""
        return any(r["variant"] == variant and r["seed"] == seed for r in self._rows)

    def add(self, variant: str, seed: int, metrics: Mapping[str, Any], *, depth_range: str = "all",
            n_images: int, protocol: str | None = None) -> None:
        """Record ``metrics`` (name -> number) of one variant, seed and depth range; flush to disk.

        Raises ``ValueError`` naming the variant and metric for NaN/inf/non-numbers, for a metric
        name that is not snake_case, or for a cell recorded twice; nothing is recorded then.
        """
        self._commit(self._validated(variant, seed, metrics, depth_range, n_images, protocol))

    def add_frame(self, df: pd.DataFrame) -> None:
        """Add tidy rows (columns ``variant, seed, metric, value, n_images`` and optionally
        ``study`` (must equal this study), ``dataset``, ``protocol``, ``depth_range``)."""
        required = {"variant", "seed", "metric", "value", "n_images"}
        missing = required - set(df.columns)
        if missing:
            raise ValueError(f"add_frame: missing columns {sorted(missing)}; got {list(df.columns)}")
        if "study" in df.columns and set(df["study"]) - {self.study}:
            raise ValueError(f"add_frame: rows of study {sorted(set(df['study']) - {self.study})} "
                             f"given to the writer of study {self.study!r}")
        if "dataset" in df.columns and set(df["dataset"]) - {self.dataset}:
            raise ValueError(f"add_frame: dataset {sorted(set(df['dataset']))} differs from the "
                             f"writer's {self.dataset!r}")
        new: list[dict[str, Any]] = []
        for rec in df.to_dict("records"):
            new += self._validated(rec["variant"], rec["seed"], {rec["metric"]: rec["value"]},
                                   rec.get("depth_range", "all"), rec["n_images"],
                                   rec.get("protocol"))
        self._commit(new)

    def _validated(self, variant: Any, seed: Any, metrics: Mapping[str, Any], depth_range: Any,
                   n_images: Any, protocol: str | None) -> list[dict[str, Any]]:
        variant = check_variant(variant)
        seed = _integer("seed", seed, minimum=0)
        n_images = _integer("n_images", n_images, minimum=1)
        check_depth_range(depth_range)
        protocol = self.protocol if protocol is None else check_name("protocol", protocol)
        if not metrics:
            raise ValueError(f"no metrics given for variant {variant!r}")
        rows = []
        for metric, value in metrics.items():
            check_name("metric", metric)
            rows.append({"study": self.study, "variant": variant, "seed": seed,
                         "dataset": self.dataset, "protocol": protocol, "depth_range": depth_range,
                         "metric": metric, "value": finite_value(value, variant=variant, metric=metric),
                         "n_images": n_images})
        return rows

    def _commit(self, rows: list[dict[str, Any]]) -> None:
        """Write the file with ``rows`` added, then keep them: a failed write records nothing."""
        keys = [tuple(r[c] for c in KEY_COLUMNS) for r in rows]
        clash = [k for i, k in enumerate(keys) if k in self._keys or k in keys[:i]]
        if clash:
            raise ValueError(f"cells recorded twice (study, variant, seed, dataset, protocol, "
                             f"depth_range, metric): {clash[:3]}")
        if is_main_process():
            write_csv(self.write_dir / FILES["metrics"],
                      pd.DataFrame(self._rows + rows, columns=METRICS_COLUMNS))
        self._rows += rows
        self._keys.update(keys)

    def save_figure(self, fig: Any, name: str, formats: Iterable[str] = ("png", "svg"),
                    **savefig_kwargs: Any) -> list[Path]:
        """Atomically save a matplotlib figure as ``figures/<name>.<fmt>`` for each format."""
        check_name("figure name", name)
        if not is_main_process():
            return []
        savefig_kwargs.setdefault("dpi", FIGURE_DPI)
        written = []
        for fmt in formats:
            path = self.figures_dir / f"{name}.{fmt}"
            with io.atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, bbox_inches="tight", **savefig_kwargs)
            written.append(path)
        return written

    def save_table(self, frame: pd.DataFrame, name: str) -> Path | None:
        """Atomically write an extra table of the study (e.g. a per-step curve) as
        ``tables/<name>.csv`` beside the metrics; None off the main process."""
        check_name("table name", name)
        if not isinstance(frame, pd.DataFrame) or frame.empty:
            raise ValueError(f"table {name!r}: expected a non-empty DataFrame")
        if not is_main_process():
            return None
        folder = self.write_dir / TABLES_DIR
        folder.mkdir(parents=True, exist_ok=True)
        return write_csv(folder / f"{name}.csv", frame)

    def finish(self, extra: dict | None = None) -> dict[str, Path]:
        """Write ``metrics.csv``, ``summary.csv`` (with the published values) and ``run.json``.

        Returns ``{"metrics": path, "summary": path, "run": path}``, or ``{}`` off the main process.
        The three files are written into the staging folder (``run.json`` last), which then
        replaces the study folder; figures saved later go straight to the study folder.
        """
        if not self._rows:
            raise ValueError(f"study {self.study!r}: finish() called before any add()")
        if not is_main_process():
            return {}
        metrics = self.rows
        summary = summarize(metrics, self._paper())
        record = provenance(self.profile, self.params, {"name": self.dataset, **self.dataset_info},
                            self.device, started=self.started)
        record.update(study=self.study, protocol=self.protocol,
                      variants=sorted(metrics["variant"].unique().tolist()),
                      seeds=sorted(int(s) for s in metrics["seed"].unique()),
                      n_rows=len(metrics),
                      evaluation_resolution=_evaluation_resolution(self.profile, self.protocol),
                      **(extra or {}))
        staged = {kind: self.write_dir / name for kind, name in FILES.items()}
        write_csv(staged["metrics"], metrics)
        write_csv(staged["summary"], summary)
        io.write_json(staged["run"], record)
        if not self._finished:
            _swap_in(staging_dir(self.dir), self.dir)
            self._finished = True
        return {kind: self.dir / name for kind, name in FILES.items()}

    def _paper(self) -> pd.DataFrame | None:
        if self.study not in PAPER_STUDIES:
            return None
        try:
            return load_paper(study=self.study)
        except FileNotFoundError as err:
            warnings.warn(f"summary.csv of {self.study!r} written without published values: {err}",
                          stacklevel=3)
            return None


def _swap_in(staged: Path, target: Path) -> None:
    """Replace folder ``target`` by ``staged`` with two renames (the old one is removed after)."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staged, target)
    io.fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def _integer(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        if isinstance(value, float) and value.is_integer():
            number = int(value)
        else:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return number


def write_csv(path: Path, df: pd.DataFrame) -> Path:
    """Atomically write ``df`` (no index; missing values as empty cells)."""
    with io.atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, na_rep="")
    return path


def summarize(metrics: pd.DataFrame, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean and spread over seeds of each (study, variant, dataset, protocol, depth_range, metric).

    ``std`` is the sample standard deviation (ddof=1) over seeds; with one seed it is 0.0 (not NaN:
    files hold no NaN; ``n_seeds`` = 1 says there is no spread to read). ``paper`` is the published
    value of the same (study, variant, depth_range, metric) cell of ``paper`` (e.g.
    :func:`load_paper`), empty where none (no difference column: Decision E13). Dataset and protocol are not
    part of the join: a SynthRooms run of a variant is set beside the paper's NYU number on purpose.
    """
    missing = set(METRICS_COLUMNS) - set(metrics.columns)
    if missing:
        raise ValueError(f"metrics frame lacks columns {sorted(missing)}")
    dup = metrics.duplicated(KEY_COLUMNS, keep=False)
    if dup.any():
        cells = metrics.loc[dup, KEY_COLUMNS].head(3).values.tolist()
        raise ValueError(f"metrics hold the same cell twice: {cells}")
    group = ["study", "variant", "dataset", "protocol", "depth_range", "metric"]
    grouped = metrics.groupby(group, sort=False)["value"]
    out = grouped.agg(mean="mean", std=lambda v: v.std(ddof=1) if len(v) > 1 else 0.0,
                      n_seeds="count").reset_index()
    out["n_seeds"] = out["n_seeds"].astype(int)
    out["paper"] = _paper_values(out, paper)
    return out[SUMMARY_COLUMNS]


def _paper_values(summary: pd.DataFrame, paper: pd.DataFrame | None) -> pd.Series:
    if paper is None or paper.empty:
        return pd.Series(float("nan"), index=summary.index)
    ref = paper[_JOIN + ["value"]]
    dup = ref.duplicated(_JOIN, keep=False)
    if dup.any():
        cells = ref.loc[dup, _JOIN].head(3).values.tolist()
        raise ValueError(f"paper frame holds a cell twice: {cells}")
    merged = summary[_JOIN].merge(ref, on=_JOIN, how="left")
    return pd.Series(merged["value"].to_numpy(dtype=float), index=summary.index)


def read_metrics(path: Path) -> pd.DataFrame:
    """Read a metrics.csv with its dtypes (seed and n_images integers)."""
    try:
        df = pd.read_csv(path, dtype={"variant": str, "depth_range": str}, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as err:
        raise _damaged(path, err) from err
    if list(df.columns) != METRICS_COLUMNS:
        raise ValueError(f"{path}: columns {list(df.columns)} differ from {METRICS_COLUMNS}")
    try:
        return df.astype({"seed": int, "n_images": int, "value": float})
    except (ValueError, TypeError) as err:
        raise _damaged(path, err) from err


def _damaged(path: Path, err: Exception) -> ValueError:
    return ValueError(f"{path} is damaged or truncated ({type(err).__name__}: {str(err)[:120]}); rerun the "
                      f"notebook that writes study {path.parent.name!r} to rewrite it")


def _read(kind: str, path: Path) -> pd.DataFrame | dict:
    if kind == "metrics":
        return read_metrics(path)
    try:
        if kind == "summary":
            df = pd.read_csv(path, dtype={"variant": str, "depth_range": str}, keep_default_na=False,
                             na_values={"paper": [""]})
            return df.astype({"mean": float, "std": float, "n_seeds": int, "paper": float})
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError, pd.errors.ParserError) as err:
        raise _damaged(path, err) from err


def load(profile: str, study: str | None = None, kind: str = "metrics",
         root: Path | None = None) -> pd.DataFrame | dict:
    """Read results of a profile: ``kind`` is ``"metrics"``, ``"summary"`` or ``"run"``.

    With ``study=None`` the frames of every study of the profile are concatenated (``"run"``: a dict
    study -> record). ``profile="paper"`` returns :func:`load_paper` (kind ``"metrics"`` only).
    A missing file raises ``FileNotFoundError`` naming the path and the command that produces it;
    a study folder whose files disagree (:func:`incomplete_reason`) raises
    :class:`IncompleteStudyError` (a ``FileNotFoundError``), and with ``study=None`` it is left out
    with a warning.
    """
    if kind not in FILES:
        raise ValueError(f"kind must be one of {sorted(FILES)}, got {kind!r}")
    if profile == "paper":
        if kind != "metrics":
            raise ValueError("profile 'paper' holds published tables only: use kind='metrics'")
        return load_paper(study=study)
    base = Path(root if root is not None else paths.results_dir()) / profile
    if study is not None:
        path = base / study / FILES[kind]
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist; {_produce_hint(profile, study)}")
        reason = incomplete_reason(path.parent)
        if reason:
            raise IncompleteStudyError(f"{path.parent} is incomplete: {reason}; {_produce_hint(profile, study)}")
        return _read(kind, path)
    found = complete_studies(base, FILES[kind])
    if not found:
        raise FileNotFoundError(f"no {FILES[kind]} under {base}; {_produce_hint(profile, None)}")
    if kind == "run":
        return {p.parent.name: _read(kind, p) for p in found}
    return pd.concat([_read(kind, p) for p in found], ignore_index=True)


def complete_studies(base: Path, filename: str = FILES["summary"]) -> list[Path]:
    """``<study>/<filename>`` of each finished study under ``base`` (a profile folder), sorted;
    hidden staging folders are skipped and incomplete studies are left out with a warning."""
    found = []
    for path in sorted(base.glob(f"[!.]*/{filename}")):
        reason = incomplete_reason(path.parent)
        if reason:
            warnings.warn(f"{path.parent} is incomplete and left out: {reason}", stacklevel=3)
        else:
            found.append(path)
    return found


def compare(profile: str, study: str, *, root: Path | None = None, protocol: str | None = None,
            digits: int = 3) -> pd.DataFrame:
    """Wide table for notebooks: rows (variant, depth_range), columns (metric, ours|paper).

    ``ours`` is ``"mean ± std (n=seeds)"`` as text, empty where we have no run; ``paper``
    is a number (NaN where the paper has no value); no difference column (Decision E13).
    Variants the paper publishes but we did not run are included, so the table reads like the
    paper's. ``protocol`` selects one protocol when the study holds several.
    """
    summary = load(profile, study, "summary", root=root)
    if protocol is not None:
        summary = summary[summary["protocol"] == protocol]
    cell = ["variant", "depth_range", "metric"]
    if summary.duplicated(cell).any():
        raise ValueError(f"study {study!r} of profile {profile!r} holds several protocols or "
                         f"datasets ({sorted(set(summary['protocol']))}); pass protocol=")
    ours = summary.assign(ours=[f"{m:.{digits}f} ± {s:.{digits}f} (n={n})" for m, s, n in
                                zip(summary["mean"], summary["std"], summary["n_seeds"])])
    ours = ours[cell + ["ours", "paper"]]
    if study in PAPER_STUDIES:
        try:
            published = load_paper(study=study).rename(columns={"value": "paper"})[cell + ["paper"]]
        except FileNotFoundError:
            published = None
        if published is not None:
            extra = published.merge(ours[cell], on=cell, how="left", indicator=True)
            extra = extra[extra["_merge"] == "left_only"].drop(columns="_merge")
            ours = pd.concat([ours, extra.assign(ours="")], ignore_index=True)
    wide = ours.pivot(index=["variant", "depth_range"], columns="metric",
                      values=["ours", "paper"])
    wide = wide.swaplevel(0, 1, axis=1)
    metrics = _ordered(wide.columns.get_level_values(0).unique(), METRIC_KEYS)
    wide = wide.reindex(columns=pd.MultiIndex.from_product([metrics, ["ours", "paper"]]))
    text_columns = [c for c in wide.columns if c[1] == "ours"]
    wide[text_columns] = wide[text_columns].fillna("")
    variants = _ordered(wide.index.get_level_values(0).unique(),
                        list(PAPER_STUDIES.get(study, {}).get("variants", {})))
    ranges = sorted(wide.index.get_level_values(1).unique(), key=_range_order)
    order = [(v, r) for v in variants for r in ranges if (v, r) in wide.index]
    return wide.reindex(order)


def _ordered(names: Iterable[str], preferred: list[str]) -> list[str]:
    names = list(names)
    return [n for n in preferred if n in names] + [n for n in names if n not in preferred]


def _range_order(label: str) -> float:
    return float("inf") if label == "all" else float(label[1:-1])
