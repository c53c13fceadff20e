"""Surface materials of SynthRooms: base colours, procedural pattern and sensor behaviour.

A material is a palette of base albedos (one is drawn per object instance and jittered), a
procedural pattern evaluated on the surface in the object's local frame (metres), and two
sensor properties: ``ir_drop``, the probability that the depth sensor returns nothing on that
surface (glass, mirrors and black screens defeat structured light), and ``emissive``, the
fraction of the colour that ignores shading (windows showing daylight, lamp shades).
"""

from __future__ import annotations

from dataclasses import dataclass

PLAIN, STRIPES, HSTRIPES, CHECKER, NOISE, BANDS = range(6)
"""Pattern ids: flat; stripes varying along local x; stripes varying along height; tiles;
smooth sinusoidal blotches; hashed per-band colours (book spines)."""

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Material:
    """Palette and pattern of one surface kind.

    ``scale`` is the pattern period in metres and ``contrast`` its relative amplitude
    (albedo = colour * (1 + contrast * pattern), pattern in [-1, 1]).
    """

    colors: tuple[RGB, ...]
    pattern: int = PLAIN
    scale: float = 1.0
    contrast: float = 0.0
    ir_drop: float = 0.0
    emissive: float = 0.0


MATERIALS: dict[str, Material] = {
    "paint": Material(((0.86, 0.84, 0.79), (0.82, 0.75, 0.62), (0.74, 0.79, 0.84),
                       (0.78, 0.84, 0.74), (0.88, 0.85, 0.68), (0.72, 0.72, 0.72)), NOISE, 1.7, 0.05),
    "ceiling": Material(((0.92, 0.92, 0.90), (0.88, 0.88, 0.86)), NOISE, 2.3, 0.03),
    "floor_wood": Material(((0.55, 0.38, 0.22), (0.66, 0.50, 0.32), (0.42, 0.28, 0.17)), STRIPES, 0.15, 0.22),
    "floor_tile": Material(((0.80, 0.80, 0.78), (0.62, 0.60, 0.56), (0.85, 0.82, 0.74)), CHECKER, 0.3, 0.12),
    "carpet": Material(((0.45, 0.45, 0.50), (0.55, 0.45, 0.38), (0.35, 0.40, 0.50), (0.50, 0.30, 0.28)),
                       NOISE, 0.25, 0.10),
    "wood": Material(((0.50, 0.33, 0.18), (0.66, 0.48, 0.30), (0.32, 0.20, 0.12), (0.80, 0.66, 0.48)),
                     STRIPES, 0.05, 0.18),
    "laminate": Material(((0.90, 0.90, 0.88), (0.75, 0.75, 0.74), (0.30, 0.30, 0.32), (0.60, 0.52, 0.42)),
                         PLAIN),
    "fabric": Material(((0.60, 0.20, 0.20), (0.20, 0.30, 0.55), (0.50, 0.50, 0.45), (0.30, 0.45, 0.30),
                        (0.75, 0.68, 0.55), (0.25, 0.25, 0.28)), NOISE, 0.3, 0.12),
    "bedding": Material(((0.90, 0.88, 0.84), (0.55, 0.65, 0.80), (0.80, 0.60, 0.60), (0.70, 0.75, 0.60)),
                        STRIPES, 0.12, 0.15),
    "metal": Material(((0.70, 0.70, 0.72), (0.35, 0.35, 0.37), (0.55, 0.56, 0.58)), PLAIN),
    "screen": Material(((0.04, 0.04, 0.05),), PLAIN, ir_drop=0.85),
    "glass": Material(((0.75, 0.85, 0.95), (0.90, 0.92, 0.95), (0.80, 0.88, 0.80)), NOISE, 0.8, 0.08,
                      ir_drop=0.75, emissive=0.85),
    "mirror": Material(((0.62, 0.66, 0.70),), NOISE, 0.5, 0.1, ir_drop=0.8, emissive=0.3),
    "picture": Material(((0.70, 0.30, 0.20), (0.20, 0.40, 0.70), (0.85, 0.75, 0.30), (0.25, 0.55, 0.35),
                         (0.55, 0.35, 0.60)), NOISE, 0.12, 0.6),
    "books": Material(((0.55, 0.45, 0.40), (0.45, 0.45, 0.55), (0.60, 0.50, 0.35)), BANDS, 0.035, 1.0),
    "ceramic": Material(((0.93, 0.93, 0.92), (0.88, 0.90, 0.92)), PLAIN),
    "cardboard": Material(((0.62, 0.47, 0.30), (0.55, 0.42, 0.28)), NOISE, 0.2, 0.06),
    "whiteboard": Material(((0.95, 0.95, 0.95),), NOISE, 0.6, 0.02),
    "plant": Material(((0.20, 0.45, 0.20), (0.30, 0.50, 0.18)), NOISE, 0.06, 0.3),
    "lampshade": Material(((0.95, 0.90, 0.75), (0.90, 0.90, 0.88)), PLAIN, emissive=0.5),
    "paper": Material(((0.95, 0.95, 0.93),), PLAIN),
    "blinds": Material(((0.88, 0.86, 0.80), (0.70, 0.70, 0.70)), HSTRIPES, 0.05, 0.2),
    "curtain": Material(((0.70, 0.60, 0.45), (0.35, 0.40, 0.55), (0.80, 0.78, 0.72)), STRIPES, 0.1, 0.15),
    "counter_top": Material(((0.20, 0.20, 0.22), (0.85, 0.84, 0.80), (0.55, 0.50, 0.45)), NOISE, 0.08, 0.1),
}
