"""Datasets that all return the same sample dict (see :mod:`depthstudy.data.sample`)."""

from .classes import IGNORE_INDEX, class_names, map_nyu40
from .sample import SAMPLE_KEYS, check_sample

__all__ = ["IGNORE_INDEX", "SAMPLE_KEYS", "check_sample", "class_names", "map_nyu40"]
