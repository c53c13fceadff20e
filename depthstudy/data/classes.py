"""Semantic label sets and the mappings between them (NYU-40 -> 13 and NYU-40 -> 4).

One mapping code path serves NYU-Depth V2 and SynthRooms: both produce NYU-40 labels
(1..40, 0 = unlabeled in the source files) and derive the 13- and 4-class maps here.
The vectors are those of ``classMapping40.mat`` (``mapToNYUSuperClass``) and
``class13Mapping.mat`` (``labels13``) of the NYU toolbox.

In returned tensors, classes are 0-based (0..C-1) and unlabeled pixels are ``IGNORE_INDEX``.
"""

from __future__ import annotations

import numpy as np

IGNORE_INDEX = 255
VALID_CLASS_COUNTS = (40, 13, 4)

NYU40_NAMES: tuple[str, ...] = (
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
    "picture", "counter", "blinds", "desk", "shelves", "curtain", "dresser", "pillow", "mirror",
    "floor mat", "clothes", "ceiling", "books", "refridgerator", "television", "paper", "towel",
    "shower curtain", "box", "whiteboard", "person", "night stand", "toilet", "sink", "lamp",
    "bathtub", "bag", "otherstructure", "otherfurniture", "otherprop",
)
"""The 40 names in order, exactly as stored in classMapping40.mat (misspelling included)."""

NYU13_NAMES: tuple[str, ...] = (
    "bed", "books", "ceiling", "chair", "floor", "furniture", "objects", "picture", "sofa",
    "table", "tv", "wall", "window",
)
NYU4_NAMES: tuple[str, ...] = ("floor", "structure", "furniture", "prop")

# Entry k-1 is the 1-based target class of 1-based NYU-40 class k.
MAP_40_TO_4 = np.array(
    [2, 1, 3, 3, 3, 3, 3, 2, 2, 3, 4, 2, 2, 3, 3, 2, 3, 4, 4, 4,
     4, 2, 4, 3, 4, 4, 4, 2, 4, 2, 4, 3, 3, 4, 4, 3, 4, 2, 3, 4], dtype=np.int64)
MAP_40_TO_13 = np.array(
    [12, 5, 6, 1, 4, 9, 10, 12, 13, 6, 8, 6, 13, 10, 6, 13, 6, 7, 7, 5,
     7, 3, 2, 6, 11, 7, 7, 7, 7, 7, 7, 6, 7, 7, 7, 7, 7, 7, 6, 7], dtype=np.int64)


def class_names(classes: int) -> tuple[str, ...]:
    """Names of a label set, indexed by 0-based class id."""
    table = {40: NYU40_NAMES, 13: NYU13_NAMES, 4: NYU4_NAMES}
    if classes not in table:
        raise ValueError(f"classes={classes!r}: expected one of {sorted(table)}")
    return table[classes]


def lut_from_nyu40(classes: int) -> np.ndarray:
    """Look-up table from 1-based NYU-40 ids (index 0 = unlabeled) to 0-based ``classes`` ids.

    Returns an int64 array of length 41 whose entry 0 is ``IGNORE_INDEX``.
    """
    if classes == 40:
        target = np.arange(1, 41, dtype=np.int64)
    elif classes == 13:
        target = MAP_40_TO_13
    elif classes == 4:
        target = MAP_40_TO_4
    else:
        raise ValueError(f"classes={classes!r}: expected one of {VALID_CLASS_COUNTS}")
    return np.concatenate([[IGNORE_INDEX], target - 1]).astype(np.int64)


def map_nyu40(label40: np.ndarray, classes: int) -> np.ndarray:
    """Map a 1-based NYU-40 label map (0 = unlabeled) to 0-based ``classes`` ids, 255 = ignore.

    Args:
        label40: integer array of any shape with values in 0..40.
        classes: 40, 13 or 4.
    Returns:
        int64 array of the same shape.
    """
    label40 = np.asarray(label40)
    if label40.size and (label40.min() < 0 or label40.max() > 40):
        raise ValueError(
            f"NYU-40 labels must lie in 0..40 (0 = unlabeled); got range "
            f"{int(label40.min())}..{int(label40.max())}"
        )
    return lut_from_nyu40(classes)[label40.astype(np.int64)]
