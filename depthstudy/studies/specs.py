"""One :class:`Study` per results folder: the single place a study is defined.

A study names its notebook, its variants, the dataset splits it reads, the studies whose trained
runs it reuses (``upstream``), the published tables it is compared with and the claims it tests.
The runner derives the notebooks' order constraints from ``upstream`` (:func:`notebook_dependencies`);
``depthstudy studies`` lists the specs and ``depthstudy train STUDY VARIANT`` trains (or reuses) one
run of a study that has a ``train_one`` and prints its metric row (:func:`train_variant`), the row
the study's notebook writes for the same run (Decision S1).

``Study.claims`` lists the ids of the claims with a comparison in the study; the claims themselves are
data of the results layer (``depthstudy/results/claims.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from .. import experiment
from ..data.factory import build_dataset
from ..profiles import Profile
from . import budget, curves, jiao
from . import cliffnet as cf


class RowCollector:
    """The ``add`` interface of :class:`depthstudy.results.StudyWriter`, keeping rows in memory."""

    def __init__(self, study: str, profile: Profile):
        self.study, self.profile, self.rows = study, profile, []

    def add(self, variant: str, seed: int, metrics: dict[str, float], depth_range: str = "all",
            n_images: int = 0) -> None:
        """One row per (variant, seed, depth range), metrics as columns."""
        self.rows.append({"study": self.study, "variant": variant, "seed": seed, "dataset": self.profile.dataset,
                          "protocol": self.profile.protocol, "depth_range": depth_range, "n_images": n_images,
                          **{k: float(v) for k, v in metrics.items()}})


DATASETS = ("train", "val", "test", "test_full", "middlebury")
"""Dataset splits a study may read (:attr:`Study.datasets`)."""

#: ``train_one(profile, variant, seed, collector)``: train (or reuse) one run, record its rows.
TrainOne = Callable[[Profile, str, int, RowCollector], None]


@dataclass(frozen=True)
class Study:
    """A study: one results folder ``results/<profile>/<name>/`` and the notebook that writes it.

    Args:
        name: results folder and study name in every result row.
        notebook: notebook file stem (``notebooks/<notebook>.ipynb``).
        paper: ``"jiao"``, ``"cliffnet"`` or ``""`` (no paper).
        variants: the variant names the study writes, in the paper's order where it has one.
        datasets: the dataset splits it reads, some of :data:`DATASETS` (``"val"``: the validation
            scenes, Decision S11; ``"test_full"``: the test split above the network resolution).
        upstream: studies whose trained runs it reuses; their notebooks run first.
        paper_tables: the ``results/paper/`` tables it is compared with.
        train_one: trains one variant for :func:`train_variant`, or None when the study has no
            per-variant run (a dataset overview, a reanalysis of other studies' runs).
    """

    name: str
    notebook: str
    paper: str
    variants: tuple[str, ...]
    datasets: tuple[str, ...] = ("train", "test")
    upstream: tuple[str, ...] = ()
    paper_tables: tuple[str, ...] = ()
    train_one: TrainOne | None = None

    def __post_init__(self) -> None:
        unknown = [d for d in self.datasets if d not in DATASETS]
        if unknown:
            raise ValueError(f"study {self.name!r}: unknown dataset split(s) {unknown}; expected some of {DATASETS}")

    @property
    def claims(self) -> tuple[str, ...]:
        """Ids of the claims with a comparison in this study, in ``claims.yaml`` order (the claims
        are data of the results layer; each comparison names its study)."""
        from ..results.claims import load

        return tuple(dict.fromkeys(c.claim_id for c in load() if c.study == self.name))


# ---------------------------------------------------------------------------------------------
# one run of a study, exactly as its notebook trains and records it


def _train_loss_comparison(profile: Profile, variant: str, seed: int, out: RowCollector) -> None:
    """Notebook 09's loop body for one (loss, seed)."""
    base_train = build_dataset(profile, "train")
    train_set = cf.SceneRelabelled(base_train)
    table = cf.loss_variants(profile, scene_classes=train_set.num_classes)
    hegs = {name: name for name in ("heg_rn", "heg_im", "heg_r", "heg_s")}
    runtime = cf.loss_runtime(table[variant], profile, base_train, seed, hegs)
    outcome = experiment.run_variant(profile, table[variant], seed, train_set, build_dataset(profile, "test"),
                                     study=cf.LOSS_STUDY, loss_runtime=runtime)
    experiment.record(out, variant, seed, outcome.evaluation)


def _train_cliff_ablation(profile: Profile, variant: str, seed: int, out: RowCollector) -> None:
    """Notebook 11's loop body: ``cliff`` is the loss comparison's HEG-S run, reused."""
    base_train = build_dataset(profile, "train")
    train_set = cf.SceneRelabelled(base_train)
    runtime = {"heg": cf.heg_for("heg_s", profile, base_train, seed)}
    if variant == "cliff":
        study, chosen = cf.LOSS_STUDY, cf.loss_variants(profile, scene_classes=train_set.num_classes)["heg_s"]
    else:
        study, chosen = cf.ABLATION_STUDY, cf.ablation_variants(profile)[variant]
    outcome = experiment.run_variant(profile, chosen, seed, train_set, build_dataset(profile, "test"),
                                     study=study, loss_runtime=runtime)
    experiment.record(out, variant, seed, outcome.evaluation)


def _train_attention_loss(profile: Profile, variant: str, seed: int, out: RowCollector) -> None:
    """Notebook 04's loop body for one (variant, seed)."""
    chosen = jiao.attention_variants()[variant]
    classes = chosen.classes or 40
    outcome = experiment.run_variant(profile, chosen, seed, build_dataset(profile, "train", classes=classes),
                                     build_dataset(profile, "test", classes=classes), study=jiao.ATTENTION_STUDY)
    experiment.record(out, variant, seed, outcome.evaluation)


def _train_budget(profile: Profile, variant: str, seed: int, out: RowCollector) -> None:
    """Notebook 15's loop body: the owning study's run at ``factor`` x the budget, rows renamed."""
    base, factor = budget.split_variant(variant)
    STUDIES[budget.FOLLOWED[base]].train_one(budget.scaled(profile, factor), base, seed,
                                              budget.RenamedRows(out, variant))


STUDIES: dict[str, Study] = {s.name: s for s in (
    Study(curves.STUDY, "14_learning_curves", "", variants=curves.FAMILIES, datasets=("train", "val"),
          upstream=("heg_training",)),
    Study("datasets", "01_datasets", "", variants=(), datasets=("train", "test")),
    Study("structures", "02_structures", "jiao",
          variants=(*jiao.structure_variants(), *(jiao.finetune_stages(t)[1].name for t in jiao.TASKS)),
          paper_tables=("jiao_suppl_table1",)),
    Study("branch_split", "03_branch_split", "jiao",
          variants=tuple(jiao.branch_split_variants()),
          paper_tables=("jiao_suppl_table2",)),
    Study("attention_loss", "04_attention_loss", "jiao",
          variants=tuple(jiao.attention_variants()), paper_tables=("jiao_suppl_table8",),
          train_one=_train_attention_loss),
    Study("depth_range", "05_depth_range", "jiao", variants=(), datasets=("test",),
          upstream=("attention_loss",),
          paper_tables=("jiao_suppl_table4", "jiao_suppl_table5", "jiao_suppl_table6", "jiao_suppl_table7")),
    Study("attention_maps", "06_attention_maps", "jiao", variants=(), datasets=("test",),
          upstream=("attention_loss",)),
    Study("weak_supervision", "07_weak_supervision", "jiao", variants=tuple(jiao.weak_variants())),
    Study("heg_training", "08_heg_training", "cliffnet", variants=("heg_s", "heg_r", "heg_im"),
          datasets=("train",)),
    Study("loss_comparison", "09_loss_comparison", "cliffnet", variants=cf.LOSS_NAMES, upstream=("heg_training",),
          paper_tables=("cliffnet_table5",), train_one=_train_loss_comparison),
    Study("loss_gradients", "10_loss_gradients", "cliffnet", variants=(), datasets=("train", "middlebury"),
          upstream=("heg_training", "loss_comparison")),
    Study("cliff_ablation", "11_cliff_ablations", "cliffnet", variants=cf.CLIFF_VARIANTS,
          upstream=("heg_training", "loss_comparison"), train_one=_train_cliff_ablation),
    Study("protocol_sensitivity", "12_protocol_sensitivity", "cliffnet", variants=(),
          datasets=("train", "test", "test_full"), upstream=("heg_training", "loss_comparison")),
    Study(budget.STUDY, "15_budget_sensitivity", "", variants=budget.variants(),
          upstream=("heg_training", "loss_comparison", "attention_loss"), train_one=_train_budget),
)}


def get_study(name: str) -> Study:
    """The spec of study ``name``; an unknown name lists the valid ones."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; valid: {', '.join(STUDIES)}")
    return STUDIES[name]


def notebook_dependencies() -> dict[str, tuple[str, ...]]:
    """Notebook stem -> the notebooks that must finish first (those of its upstream studies)."""
    return {s.notebook: tuple(STUDIES[u].notebook for u in s.upstream) for s in STUDIES.values()}


def train_variant(study: str, variant: str, profile: Profile, seed: int) -> pd.DataFrame:
    """Train (or reuse) one run of ``study`` and return its metric rows (one per depth range).

    The run is trained exactly as the study's notebook trains it (same variant table, data,
    upstream runs and run key), so a run the notebook trained is reused and the row equals the
    notebook's (Decision S1).
    """
    spec = get_study(study)
    if spec.train_one is None:
        trainable = [s.name for s in STUDIES.values() if s.train_one is not None]
        raise ValueError(f"study {study!r} has no per-variant run to train; run its notebook "
                         f"({spec.notebook}); studies with runs: {', '.join(trainable)}")
    if variant not in spec.variants:
        raise ValueError(f"unknown variant {variant!r} of study {study!r}; valid: {', '.join(spec.variants)}")
    out = RowCollector(study, profile)
    spec.train_one(profile, variant, seed, out)
    return pd.DataFrame(out.rows)


def describe() -> pd.DataFrame:
    """One row per study: notebook, paper, upstream studies, paper tables, variants."""
    return pd.DataFrame([{"study": s.name, "notebook": s.notebook, "paper": s.paper or "-",
                          "upstream": ", ".join(s.upstream) or "-", "tables": ", ".join(s.paper_tables) or "-",
                          "train": "yes" if s.train_one else "-", "variants": " ".join(s.variants) or "-"}
                         for s in STUDIES.values()])


__all__ = ["DATASETS", "RowCollector", "STUDIES", "Study", "describe", "get_study", "notebook_dependencies",
           "train_variant"]
