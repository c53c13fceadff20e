"""Results store: tidy metrics, summaries against the published tables, provenance, figures.

``from depthstudy import results`` then ``results.StudyWriter``, ``results.load``,
``results.load_paper``, ``results.compare``, ``results.summarize``. Names and layouts:
``results.schema`` (columns, metric keys, depth-range labels) and ``results.paper``
(``PAPER_STUDIES``, ``PAPER_TABLES``). File formats: ``results/paper/README.md``.
"""

from depthstudy.provenance import provenance
from depthstudy.results.paper import PAPER_STUDIES, PAPER_TABLES, load_paper, paper_dir
from depthstudy.results.schema import (DEPTH_METRICS, FRACTION_METRICS, GAIN_METRICS,
                                       HIGHER_IS_BETTER, METRIC_KEYS, METRICS_COLUMNS,
                                       PAPER_COLUMNS, SEMANTIC_METRICS, SUMMARY_COLUMNS,
                                       depth_range_label, parse_depth_range,
                                       relative_gain)
from depthstudy.results.store import IncompleteStudyError, StudyWriter, compare, load, summarize

__all__ = [
    "DEPTH_METRICS", "FRACTION_METRICS", "GAIN_METRICS", "HIGHER_IS_BETTER", "METRIC_KEYS",
    "METRICS_COLUMNS", "PAPER_COLUMNS", "PAPER_STUDIES", "PAPER_TABLES", "SEMANTIC_METRICS",
    "SUMMARY_COLUMNS", "IncompleteStudyError", "StudyWriter", "compare", "depth_range_label", "load", "load_paper",
    "paper_dir", "parse_depth_range", "provenance", "relative_gain", "summarize",
]
