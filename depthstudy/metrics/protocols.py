"""Named depth evaluation protocols, loaded from ``depthstudy/protocols.yaml``.

A protocol fixes everything that moves published depth numbers besides the formulas: which GT
tensor, which map is resized and how, the crop window, the valid GT range, the prediction clip and
CLIFFNet's zero replacement. The YAML file documents every field; :class:`Protocol` mirrors it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

PROTOCOLS_FILE = "protocols.yaml"
_GT_KEYS = ("depth", "raw_depth")
_RESIZE_MODES = ("pred_to_gt", "gt_to_pred")


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol (field meanings: the header of ``depthstudy/protocols.yaml``).

    Depths are in metres; ``crop`` is (top, bottom, left, right), 0-based, end exclusive, at
    ``reference_size`` (H, W).
    """

    name: str
    description: str
    source: str
    gt: str
    resize: str
    align_corners: bool
    crop: tuple[int, int, int, int] | None
    reference_size: tuple[int, int]
    min_depth: float
    max_depth: float | None
    max_inclusive: bool
    clip_pred: tuple[float, float]
    zero_replacement: float | None

    def crop_window(self, height: int, width: int) -> tuple[int, int, int, int] | None:
        """The crop bounds (top, bottom, left, right) for an evaluation frame of height x width.

        At ``reference_size`` these are the documented bounds. For other sizes each bound is
        scaled by height / ref_H (rows) or width / ref_W (columns) and rounded half up, so a
        240x320 frame gets the 480x640 window halved (e.g. bts: [22.5, 235.5, 20.5, 300.5] ->
        [23, 236, 21, 301]). This scaling is our choice; the reference codes only evaluate at
        480x640.
        """
        if self.crop is None:
            return None
        ref_h, ref_w = self.reference_size
        top, bottom, left, right = self.crop

        def scale(value: int, size: int, ref: int) -> int:
            return int(math.floor(value * size / ref + 0.5))

        return (scale(top, height, ref_h), scale(bottom, height, ref_h),
                scale(left, width, ref_w), scale(right, width, ref_w))


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _protocol_from_mapping(name: str, entry: object, path: str) -> Protocol:
    """Validate one YAML entry and build its :class:`Protocol`; errors name the file and field."""
    where = f"{path}: protocol {name!r}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a mapping of fields, got {type(entry).__name__}")
    expected = {f.name for f in fields(Protocol)} - {"name"}
    missing, unknown = expected - set(entry), set(entry) - expected
    if missing or unknown:
        raise ValueError(f"{where}: missing fields {sorted(missing)}, unknown fields "
                         f"{sorted(unknown)}; expected exactly {sorted(expected)}")
    if entry["gt"] not in _GT_KEYS:
        raise ValueError(f"{where}: gt must be one of {_GT_KEYS}, got {entry['gt']!r}")
    if entry["resize"] not in _RESIZE_MODES:
        raise ValueError(f"{where}: resize must be one of {_RESIZE_MODES}, got {entry['resize']!r}")
    for flag in ("align_corners", "max_inclusive"):
        if not isinstance(entry[flag], bool):
            raise ValueError(f"{where}: {flag} must be true or false, got {entry[flag]!r}")
    ref = entry["reference_size"]
    if not (isinstance(ref, list) and len(ref) == 2 and all(isinstance(v, int) and v > 0 for v in ref)):
        raise ValueError(f"{where}: reference_size must be [H, W] positive integers, got {ref!r}")
    crop = entry["crop"]
    if crop is not None:
        if not (isinstance(crop, list) and len(crop) == 4 and all(isinstance(v, int) for v in crop)):
            raise ValueError(f"{where}: crop must be null or [top, bottom, left, right] integers, got {crop!r}")
        top, bottom, left, right = crop
        if not (0 <= top < bottom <= ref[0] and 0 <= left < right <= ref[1]):
            raise ValueError(f"{where}: crop {crop} does not fit reference_size {ref}")
        crop = tuple(crop)
    clip = entry["clip_pred"]
    if not (isinstance(clip, list) and len(clip) == 2):
        raise ValueError(f"{where}: clip_pred must be [lo, hi], got {clip!r}")
    lo, hi = (_number(v, f"{where} clip_pred") for v in clip)
    if not lo < hi:
        raise ValueError(f"{where}: clip_pred needs lo < hi, got {clip!r}")
    min_depth = _number(entry["min_depth"], f"{where} min_depth")
    max_depth = entry["max_depth"]
    if max_depth is not None:
        max_depth = _number(max_depth, f"{where} max_depth")
        if not max_depth > min_depth:
            raise ValueError(f"{where}: max_depth must exceed min_depth")
    zero = entry["zero_replacement"]
    if zero is not None:
        zero = _number(zero, f"{where} zero_replacement")
        if not zero > 0:
            raise ValueError(f"{where}: zero_replacement must be positive, got {zero!r}")
    if lo <= 0 and zero is None:
        raise ValueError(f"{where}: clip_pred lo={lo} <= 0 needs a zero_replacement, "
                         "otherwise log and ratio terms are infinite")
    if lo < 0:
        raise ValueError(f"{where}: clip_pred lo must be >= 0 (depths), got {lo}")
    return Protocol(
        name=name, description=str(entry["description"]), source=str(entry["source"]),
        gt=entry["gt"], resize=entry["resize"], align_corners=entry["align_corners"], crop=crop,
        reference_size=tuple(ref), min_depth=min_depth, max_depth=max_depth,
        max_inclusive=entry["max_inclusive"], clip_pred=(lo, hi), zero_replacement=zero,
    )


def load_protocols(path: str | Path) -> dict[str, Protocol]:
    """Read and validate a protocols YAML file: ``{name: {field: value}}`` -> ``{name: Protocol}``."""
    text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected a non-empty mapping of protocol names to fields")
    return {str(name): _protocol_from_mapping(str(name), entry, str(path)) for name, entry in data.items()}


@lru_cache(maxsize=1)
def _packaged_protocols() -> dict[str, Protocol]:
    with resources.as_file(resources.files("depthstudy") / PROTOCOLS_FILE) as path:
        return load_protocols(path)


def protocols() -> dict[str, Protocol]:
    """All named protocols of ``depthstudy/protocols.yaml`` (a fresh dict; the Protocols are frozen)."""
    return dict(_packaged_protocols())


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; an unknown name raises ValueError listing the valid names."""
    table = _packaged_protocols()
    if name not in table:
        raise ValueError(f"protocol={name!r}: unknown protocol; valid names: {sorted(table)}")
    return table[name]
