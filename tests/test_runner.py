"""The papermill runner: parameter validation, dependency skipping, summary, CLI exit codes."""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from depthstudy import cli, runner
from depthstudy.studies import specs as study_specs

#: Dependencies of the test notebooks (the runner derives them from Study specs; see the fixture).
DEPS: dict[str, tuple[str, ...]] = {}


@pytest.fixture(autouse=True)
def derived_dependencies(monkeypatch):
    DEPS.clear()
    monkeypatch.setattr(study_specs, "notebook_dependencies", lambda: dict(DEPS))


def _write_nb(folder: Path, name: str, body: str, params: str = "", depends_on=(), **meta) -> Path:
    nb = new_notebook()
    DEPS[name] = tuple(depends_on)
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}, "depthstudy": dict(meta)}
    nb.cells = [new_code_cell(f"profile = 'smoke'\n{params}", metadata={"tags": ["parameters"]}),
                new_code_cell(body)]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def nbdir(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    out = "import os, pathlib\np = pathlib.Path(os.environ['DEPTHSTUDY_RESULTS']) / profile / 'toy'\n" \
          "p.mkdir(parents=True, exist_ok=True)\n"
    _write_nb(folder, "01_first", out + "(p / f'first_{scale}.txt').write_text(str(scale * 2))", "scale = 1")
    _write_nb(folder, "02_broken", "raise RuntimeError('boom')")
    _write_nb(folder, "03_needs_broken", "x = 1", depends_on=["02_broken"])
    _write_nb(folder, "04_independent", out + "(p / 'fourth.txt').write_text('ok')\nprint('REPORT-BODY')",
              export_html="report.html")
    return folder


def test_discover_orders_and_reads_dependencies(nbdir):
    specs = runner.discover(nbdir)
    assert [s.name for s in specs] == ["01_first", "02_broken", "03_needs_broken", "04_independent"]
    assert specs[2].depends_on == ("02_broken",)


@pytest.mark.slow
def test_run_injects_params_skips_dependents_and_continues(nbdir, tmp_path):
    results = tmp_path / "results"
    runs = runner.run("smoke", params={"scale": 21}, notebook_dir=nbdir, results_root=results, log=lambda s: None)
    status = {r.name: r.status for r in runs}
    assert status == {"01_first": "ok", "02_broken": "failed", "03_needs_broken": "skipped",
                      "04_independent": "ok"}
    assert (results / "smoke" / "toy" / "first_21.txt").read_text() == "42"
    assert (results / "smoke" / "notebooks" / "02_broken.ipynb").exists()  # post-mortem copy kept
    assert "RuntimeError: boom" in {r.name: r.error for r in runs}["02_broken"]
    assert runs[0].outputs == ["toy/first_21.txt"]
    html = (results / "smoke" / "report.html").read_text()
    assert "REPORT-BODY" in html and "write_text" not in html  # outputs shown, code hidden
    table = runner.format_summary(runs)
    assert "notebooks: 2 ok, 1 failed, 1 skipped" in table and "needs 02_broken" in table


def test_unknown_parameter_is_named_before_anything_runs(nbdir, tmp_path):
    with pytest.raises(ValueError, match=r"\['bogus_param'\].*valid parameters: profile, scale"):
        runner.run("smoke", params={"bogus_param": 1}, notebook_dir=nbdir, results_root=tmp_path)
    assert not (tmp_path / "smoke" / "toy").exists()


def test_unknown_profile_and_notebook(nbdir, tmp_path):
    with pytest.raises(ValueError, match="valid profiles: smoke, preview, cpu, gpu, nyu"):
        runner.run("nosuch", notebook_dir=nbdir, results_root=tmp_path)
    with pytest.raises(ValueError, match="unknown notebook 'nope'.*01_first"):
        runner.run("smoke", only=["nope"], notebook_dir=nbdir, results_root=tmp_path)


def test_select_by_short_names(nbdir):
    specs = runner.discover(nbdir)
    assert [s.name for s in runner.select(specs, ["independent", "01"])] == ["01_first", "04_independent"]


def test_parse_params_types():
    assert runner.parse_params(["a=3", "b=0.5", "c=x", "d=true"]) == {"a": 3, "b": 0.5, "c": "x", "d": True}
    with pytest.raises(ValueError, match="key=value"):
        runner.parse_params(["novalue"])


def test_cli_errors_exit_2_and_name_the_problem(capsys):
    assert cli.main(["run", "--profile", "nosuch"]) == 2
    assert "smoke, preview, cpu, gpu, nyu" in capsys.readouterr().err
    assert cli.main(["run", "--profile", "smoke", "-p", "bogus_param=1"]) == 2
    assert "bogus_param" in capsys.readouterr().err


@pytest.mark.slow
def test_parallel_jobs_respect_dependencies_run_last_and_attribute_outputs(tmp_path, monkeypatch):
    """jobs=2: a dependent notebook sees its dependency's file, the run_last report sees every
    output, kernels get cpu_count // 2 threads, and overlapping notebooks keep their own outputs."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    head = ("import os, json, pathlib, time\nroot = pathlib.Path(os.environ['DEPTHSTUDY_RESULTS']) / profile\n"
            "def study(name):\n    p = root / name\n    p.mkdir(parents=True, exist_ok=True)\n    return p\n")
    finish = "(p / 'run.json').write_text(json.dumps({'notebook': os.environ['DEPTHSTUDY_NOTEBOOK']}))\n"
    _write_nb(folder, "01_slow", head + "time.sleep(3)\np = study('slow')\n(p / 'a.txt').write_text('A')\n" + finish)
    _write_nb(folder, "02_fast", head + "p = study('fast')\n"
              "(p / 'b.txt').write_text(os.environ.get('OMP_NUM_THREADS', ''))\n" + finish)
    _write_nb(folder, "03_needs_slow", head + "p = study('child')\n"
              "(p / 'c.txt').write_text((root / 'slow' / 'a.txt').read_text() + 'C')\n" + finish,
              depends_on=["01_slow"])
    _write_nb(folder, "04_broken", "raise ValueError('nope')")
    _write_nb(folder, "05_report", head + "(root / 'seen.txt').write_text(' '.join(sorted(\n"
              "    p.parent.name for p in root.glob('*/run.json'))))", run_last=True, depends_on=["04_broken"])
    results = tmp_path / "results"
    lines = []
    runs = runner.run("smoke", notebook_dir=folder, results_root=results, log=lines.append, jobs=2)
    status = {r.name: r.status for r in runs}
    assert status == {"01_slow": "ok", "02_fast": "ok", "03_needs_slow": "ok", "04_broken": "failed",
                      "05_report": "ok"}
    assert [r.name for r in runs] == sorted(status)  # study order, whatever the finishing order
    root = results / "smoke"
    assert (root / "child" / "c.txt").read_text() == "AC"
    assert (root / "seen.txt").read_text() == "child fast slow"
    assert (root / "fast" / "b.txt").read_text() == str(runner.kernel_threads(2))
    outputs = {r.name: r.outputs for r in runs}
    assert outputs["01_slow"] == ["slow/a.txt", "slow/run.json"]
    assert outputs["02_fast"] == ["fast/b.txt", "fast/run.json"]
    assert lines.index("[run ] 05_report {'profile': 'smoke'}") > max(
        i for i, line in enumerate(lines) if line.startswith(("[ok  ]", "[fail")) and "05_report" not in line)


def test_jobs_must_be_a_positive_integer(nbdir, tmp_path):
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
            runner.run("smoke", notebook_dir=nbdir, results_root=tmp_path, jobs=bad)


def test_kernel_threads_split_the_cores(monkeypatch):
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 16)
    assert [runner.kernel_threads(j) for j in (1, 2, 3, 32)] == [16, 8, 5, 1]


def test_longest_chain_starts_first(tmp_path):
    specs = [runner.NotebookSpec("01_a", tmp_path), runner.NotebookSpec("02_b", tmp_path),
             runner.NotebookSpec("03_c", tmp_path, depends_on=("02_b",)),
             runner.NotebookSpec("04_d", tmp_path, depends_on=("03_c", "01_a"))]
    assert runner.chain_lengths(specs, {}) == {"01_a": 2, "02_b": 3, "03_c": 2, "04_d": 1}
    lengths = runner.chain_lengths(specs, {"01_a": 100, "02_b": 5, "03_c": 5, "04_d": 10})
    assert lengths == {"01_a": 110, "02_b": 20, "03_c": 15, "04_d": 10}
    out = tmp_path / "out"
    out.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"duration": 12.5}
    nbformat.write(nb, out / "02_b.ipynb")
    (out / "01_a.ipynb").write_text("not json")
    assert runner.previous_durations(out) == {"02_b": 12.5}


@pytest.mark.slow
def test_workers_exit_when_the_runner_is_killed(tmp_path):
    """SIGKILL the runner mid-notebook: its worker and kernel processes go away with it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "notebooks"
    folder.mkdir()
    _write_nb(folder, "01_sleep", "import os, time, pathlib\n"
              "pathlib.Path(os.environ['DEPTHSTUDY_RESULTS'], 'pids').write_text(f'{os.getpid()} {os.getppid()}')\n"
              "time.sleep(120)")
    code = ("import sys; from depthstudy import runner; "
            f"runner.run('smoke', notebook_dir={str(folder)!r}, results_root={str(tmp_path)!r}, jobs=1)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    pids = tmp_path / "pids"
    deadline = time.monotonic() + 90
    while not pids.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    kernel, worker = (int(x) for x in pids.read_text().split())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return not open(f"/proc/{pid}/stat").read().split(") ")[1].startswith("Z")

    deadline = time.monotonic() + 30
    while (alive(worker) or alive(kernel)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive(worker) and not alive(kernel)


@pytest.mark.parametrize("deps, run_last, match", [
    ({"01_a": ["02_b"]}, set(), "names '02_b', which is not an earlier notebook; earlier ones: none"),
    ({"02_b": ["01_a", "02_b"]}, set(), "names '02_b', which is not an earlier notebook; earlier ones: 01_a"),
    ({"02_b": ["01_typo"]}, set(), "names '01_typo'"),
    ({"02_b": ["01_a"]}, {"01_a"}, "depends on '01_a', which is marked run_last"),
])
def test_dependencies_must_name_earlier_notebooks(tmp_path, deps, run_last, match):
    """A cycle, a forward or misspelt name, or a dependency on the report is an error naming the file
    (before this check the scheduler waited forever on a cycle)."""
    for name in ("01_a", "02_b"):
        _write_nb(tmp_path, name, "x = 1", depends_on=deps.get(name, ()), run_last=name in run_last)
    with pytest.raises(ValueError, match=match) as err:
        runner.run("smoke", notebook_dir=tmp_path, results_root=tmp_path / "results", log=lambda s: None)
    assert ".ipynb" in str(err.value)
    assert not (tmp_path / "results" / "smoke" / "notebooks").exists()


def test_failure_line_names_the_cell_and_the_executed_copy(nbdir, tmp_path):
    lines = []
    runs = runner.run("smoke", only=["02_broken"], notebook_dir=nbdir, results_root=tmp_path, log=lines.append)
    assert runs[0].status == "failed"
    assert runs[0].error.startswith('cell In [3] "raise RuntimeError(\'boom\')": RuntimeError: boom')
    (failed,) = [line for line in lines if line.startswith("[fail")]
    assert f"traceback in {tmp_path / 'smoke' / 'notebooks' / '02_broken.ipynb'}" in failed


def test_live_progress_reads_the_executing_copy(tmp_path):
    nb = new_notebook(cells=[new_code_cell("a = 1"), new_code_cell("b = 2"), new_code_cell("c = 3")])
    for cell, status in zip(nb.cells, ("completed", "running", "pending")):
        cell.metadata["papermill"] = {"status": status}
    nbformat.write(nb, tmp_path / ".07_x.running.ipynb")
    progress = runner.LiveProgress(tmp_path, heartbeat_s=3600)
    progress.start("07_x")
    (line,) = progress.lines(["07_x"])
    assert line.startswith("[....] 07_x cell 2/3, 0 s, executing copy ") and line.endswith(".07_x.running.ipynb")
    assert progress.lines(["07_x"]) == []  # unchanged and within the heartbeat: silent
    assert runner.notebook_progress(tmp_path / "missing.ipynb") is None


def test_outputs_of_a_folder_whose_run_json_comes_later_go_to_its_notebook(tmp_path):
    """The study folder had no run.json yet when the overlapping notebook ended."""
    (tmp_path / "structures").mkdir()
    (tmp_path / "structures" / "run.json").write_text('{"notebook": "02_structures"}')
    runs = [runner.NotebookRun("01_datasets", "ok", outputs=["datasets/a.csv", "structures/b.csv"]),
            runner.NotebookRun("02_structures", "ok", outputs=["structures/b.csv", "structures/run.json"])]
    runner.attribute_outputs(runs, tmp_path)
    assert runs[0].outputs == ["datasets/a.csv"]
    assert runs[1].outputs == ["structures/b.csv", "structures/run.json"]


def test_staging_folders_are_never_outputs(tmp_path):
    """A study's hidden ``.<study>.partial`` folder is swapped into the study folder at finish()."""
    runs = [runner.NotebookRun("07_weak_supervision", "ok",
                               outputs=[".cliff_ablation.partial/metrics.csv", "weak_supervision/run.json"])]
    runner.attribute_outputs(runs, tmp_path)
    assert runs[0].outputs == ["weak_supervision/run.json"]
