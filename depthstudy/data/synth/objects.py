"""Furniture of SynthRooms as parts in an object-local frame.

Frame: metres, z up from the floor, the object's front faces local +y, its footprint is centred
on the local origin. A part is a box (optionally yawed about z) or a vertical cylinder carrying a
1-based NYU-40 class id and a material name (:mod:`.materials`). ``Obj`` holds the parts and the
footprint (width along x, depth along y) used for placement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# 1-based NYU-40 ids (depthstudy.data.classes.NYU40_NAMES, index + 1).
WALL, FLOOR, CABINET, BED, CHAIR, SOFA, TABLE, DOOR, WINDOW, BOOKSHELF = range(1, 11)
PICTURE, COUNTER, BLINDS, DESK, SHELVES, CURTAIN, DRESSER, PILLOW, MIRROR, FLOOR_MAT = range(11, 21)
CLOTHES, CEILING, BOOKS, FRIDGE, TELEVISION, PAPER, TOWEL, SHOWER_CURTAIN, BOX, WHITEBOARD = range(21, 31)
NIGHT_STAND, TOILET, SINK, LAMP, BATHTUB, BAG = 32, 33, 34, 35, 36, 37
OTHERFURNITURE, OTHERPROP = 39, 40

BOX_KIND, CYL_KIND = 1, 2


@dataclass(frozen=True)
class Part:
    """One primitive. Box: ``size`` = full extents (x, y, z). Cylinder: size = (2r, 2r, height)."""

    kind: int
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    label: int
    material: str
    yaw: float = 0.0


@dataclass(frozen=True)
class Obj:
    """Parts plus footprint (width along local x, depth along local y), metres."""

    parts: tuple[Part, ...]
    width: float
    depth: float


def box(x: float, y: float, z0: float, sx: float, sy: float, sz: float, label: int, mat: str,
        yaw: float = 0.0) -> Part:
    """Box standing on height ``z0`` with centre (x, y) and full sizes (sx, sy, sz)."""
    return Part(BOX_KIND, (x, y, z0 + sz / 2), (sx, sy, sz), label, mat, yaw)


def cyl(x: float, y: float, z0: float, r: float, h: float, label: int, mat: str) -> Part:
    """Vertical cylinder of radius ``r`` from height ``z0`` to ``z0 + h``."""
    return Part(CYL_KIND, (x, y, z0 + h / 2), (2 * r, 2 * r, h), label, mat)


def moved(parts: tuple[Part, ...] | list[Part], dx: float, dy: float, yaw: float) -> list[Part]:
    """Rotate parts by ``yaw`` about the local origin, then translate by (dx, dy)."""
    c, s = math.cos(yaw), math.sin(yaw)
    out = []
    for p in parts:
        x, y, z = p.center
        out.append(Part(p.kind, (dx + c * x - s * y, dy + s * x + c * y, z), p.size, p.label,
                        p.material, p.yaw + yaw))
    return out


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def chair(rng: np.random.Generator, legs: bool = True) -> Obj:
    """Seat, back and four legs (or two sled panels)."""
    w, seat = _u(rng, 0.42, 0.5), _u(rng, 0.43, 0.47)
    mat = "wood" if rng.random() < 0.6 else "metal"
    parts = [box(0, 0, seat, w, w, 0.05, CHAIR, mat), box(0, -w / 2 + 0.025, seat + 0.05, w, 0.05,
                                                           _u(rng, 0.35, 0.5), CHAIR, mat)]
    if legs:
        o = w / 2 - 0.03
        parts += [box(sx * o, sy * o, 0, 0.04, 0.04, seat, CHAIR, mat) for sx in (-1, 1) for sy in (-1, 1)]
    else:
        parts += [box(sx * (w / 2 - 0.02), 0, 0, 0.04, w, seat, CHAIR, mat) for sx in (-1, 1)]
    return Obj(tuple(parts), w, w)


def office_chair(rng: np.random.Generator) -> Obj:
    """Padded seat and back on a pedestal with a round base."""
    w = _u(rng, 0.48, 0.55)
    parts = (box(0, 0, 0.42, w, w, 0.08, CHAIR, "fabric"),
             box(0, -w / 2 + 0.04, 0.55, w * 0.9, 0.07, _u(rng, 0.45, 0.6), CHAIR, "fabric"),
             cyl(0, 0, 0.08, 0.03, 0.34, CHAIR, "metal"), cyl(0, 0, 0.0, 0.3, 0.08, CHAIR, "metal"))
    return Obj(parts, 0.6, 0.6)


def table(rng: np.random.Generator, w: float, d: float, h: float, label: int = TABLE) -> Obj:
    """Top slab and four legs."""
    mat = "wood" if rng.random() < 0.7 else "laminate"
    parts = [box(0, 0, h - 0.04, w, d, 0.04, label, mat)]
    parts += [box(sx * (w / 2 - 0.05), sy * (d / 2 - 0.05), 0, 0.05, 0.05, h - 0.04, label, mat)
              for sx in (-1, 1) for sy in (-1, 1)]
    return Obj(tuple(parts), w, d)


def round_table(rng: np.random.Generator) -> Obj:
    """Round top on a central column and base disc."""
    r, h = _u(rng, 0.4, 0.6), _u(rng, 0.72, 0.76)
    parts = (cyl(0, 0, h - 0.04, r, 0.04, TABLE, "wood"), cyl(0, 0, 0.03, 0.05, h - 0.07, TABLE, "metal"),
             cyl(0, 0, 0, 0.25, 0.03, TABLE, "metal"))
    return Obj(parts, 2 * r, 2 * r)


def dining_set(rng: np.random.Generator) -> Obj:
    """Table with chairs around it facing the table."""
    w, d = _u(rng, 1.2, 2.0), _u(rng, 0.8, 1.0)
    parts = list(table(rng, w, d, _u(rng, 0.72, 0.76)).parts)
    seat = chair(rng)
    per_side = 1 if w < 1.5 else 2
    for k in range(per_side):
        x = (k + 0.5) * w / per_side - w / 2
        parts += moved(seat.parts, x, -d / 2 - 0.15, 0.0)
        parts += moved(seat.parts, x, d / 2 + 0.15, math.pi)
    if rng.random() < 0.5:
        parts += moved(seat.parts, -w / 2 - 0.15, 0, -math.pi / 2)
    return Obj(tuple(parts), w + 0.8, d + 0.9)


def desk(rng: np.random.Generator, monitor: bool) -> Obj:
    """Desk top on two side panels, optionally a monitor and papers."""
    w, d, h = _u(rng, 1.1, 1.6), _u(rng, 0.6, 0.75), _u(rng, 0.72, 0.76)
    mat = "wood" if rng.random() < 0.5 else "laminate"
    parts = [box(0, 0, h - 0.03, w, d, 0.03, DESK, mat)]
    parts += [box(sx * (w / 2 - 0.02), 0, 0, 0.04, d, h - 0.03, DESK, mat) for sx in (-1, 1)]
    if monitor:
        parts += [box(0, -d / 4, h + 0.1, 0.55, 0.04, 0.34, OTHERPROP, "screen"),
                  box(0, -d / 4, h, 0.06, 0.06, 0.1, OTHERPROP, "metal")]
    if rng.random() < 0.6:
        parts.append(box(w / 4, d / 6, h, 0.3, 0.22, 0.02, PAPER, "paper"))
    return Obj(tuple(parts), w, d)


def bed(rng: np.random.Generator) -> Obj:
    """Frame, mattress with bedding, headboard at the back (-y), pillows."""
    w = _u(rng, 0.9, 1.0) if rng.random() < 0.4 else _u(rng, 1.4, 1.8)
    d = _u(rng, 1.95, 2.1)
    parts = [box(0, 0.04, 0, w, d - 0.08, 0.3, BED, "wood"), box(0, 0.04, 0.3, w - 0.04, d - 0.1, 0.25, BED, "bedding"),
             box(0, -d / 2 + 0.04, 0, w, 0.08, _u(rng, 0.9, 1.2), BED, "wood")]
    n_pillows = 1 if w < 1.2 else 2
    for k in range(n_pillows):
        x = (k + 0.5) * w / n_pillows - w / 2
        parts.append(box(x, -d / 2 + 0.35, 0.55, min(0.6, w / n_pillows - 0.1), 0.4, 0.14, PILLOW, "fabric"))
    if rng.random() < 0.3:
        parts.append(box(_u(rng, -w / 4, w / 4), _u(rng, 0.1, 0.6), 0.55, 0.5, 0.4, 0.08, CLOTHES, "fabric"))
    return Obj(tuple(parts), w, d)


def night_stand(rng: np.random.Generator) -> Obj:
    """Small cabinet with a table lamp on top."""
    h = _u(rng, 0.5, 0.6)
    parts = [box(0, 0, 0, 0.45, 0.4, h, NIGHT_STAND, "wood")]
    if rng.random() < 0.7:
        parts += [cyl(0, 0, h, 0.03, 0.25, LAMP, "metal"), cyl(0, 0, h + 0.22, 0.13, 0.2, LAMP, "lampshade")]
    return Obj(tuple(parts), 0.45, 0.4)


def floor_lamp(rng: np.random.Generator) -> Obj:
    """Stem and shade on a base disc."""
    h = _u(rng, 1.3, 1.6)
    return Obj((cyl(0, 0, 0, 0.15, 0.03, LAMP, "metal"), cyl(0, 0, 0.03, 0.02, h, LAMP, "metal"),
                cyl(0, 0, h, 0.2, 0.3, LAMP, "lampshade")), 0.4, 0.4)


def pendant_lamp(rng: np.random.Generator, ceiling: float) -> Obj:
    """Cord and shade hanging from the ceiling."""
    z = _u(rng, 1.9, 2.2)
    return Obj((cyl(0, 0, z + 0.25, 0.01, ceiling - z - 0.25, LAMP, "metal"),
                cyl(0, 0, z, 0.22, 0.25, LAMP, "lampshade")), 0.45, 0.45)


def block(rng: np.random.Generator, label: int, mat: str, w: tuple[float, float], d: tuple[float, float],
          h: tuple[float, float]) -> Obj:
    """A single box (cabinet, dresser, fridge, box, bag...)."""
    sw, sd = _u(rng, *w), _u(rng, *d)
    return Obj((box(0, 0, 0, sw, sd, _u(rng, *h), label, mat),), sw, sd)


def bookshelf(rng: np.random.Generator, double_sided: bool = False) -> Obj:
    """Case with rows of books on its front (and back when free-standing)."""
    w, d, h = _u(rng, 0.8, 1.2), _u(rng, 0.3, 0.38), _u(rng, 1.7, 2.1)
    parts = [box(0, 0, 0, w, d, h, BOOKSHELF, "wood")]
    rows = int(h / 0.4)
    for k in range(rows):
        z = 0.1 + k * 0.4
        parts.append(box(0, d / 2 + 0.01, z, w - 0.06, 0.02, _u(rng, 0.2, 0.28), BOOKS, "books"))
        if double_sided:
            parts.append(box(0, -d / 2 - 0.01, z, w - 0.06, 0.02, _u(rng, 0.2, 0.28), BOOKS, "books"))
    return Obj(tuple(parts), w, d + 0.04)


def sofa(rng: np.random.Generator) -> Obj:
    """Seat base, back, two arms and cushions."""
    w, d = _u(rng, 1.6, 2.4), _u(rng, 0.85, 0.95)
    parts = [box(0, 0.05, 0, w - 0.36, d - 0.1, 0.42, SOFA, "fabric"),
             box(0, -d / 2 + 0.1, 0, w, 0.2, _u(rng, 0.8, 0.9), SOFA, "fabric")]
    parts += [box(sx * (w / 2 - 0.09), 0, 0, 0.18, d, 0.62, SOFA, "fabric") for sx in (-1, 1)]
    for _ in range(int(rng.integers(0, 3))):
        parts.append(box(_u(rng, -w / 3, w / 3), -d / 2 + 0.3, 0.42, 0.42, 0.14, 0.4, PILLOW, "fabric"))
    return Obj(tuple(parts), w, d)


def tv_stand(rng: np.random.Generator) -> Obj:
    """Low cabinet carrying a television."""
    w = _u(rng, 1.2, 1.8)
    tw = _u(rng, 0.9, min(1.3, w))
    return Obj((box(0, 0, 0, w, 0.42, 0.5, CABINET, "laminate"),
                box(0, -0.05, 0.5, tw, 0.06, tw * 0.58, TELEVISION, "screen")), w, 0.42)


def kitchen_run(rng: np.random.Generator, length: float, sink: bool) -> Obj:
    """Base cabinets with a counter top, optional sink, and wall cabinets above."""
    parts = [box(0, 0, 0, length, 0.58, 0.86, CABINET, "laminate"),
             box(0, 0.015, 0.86, length + 0.02, 0.63, 0.04, COUNTER, "counter_top")]
    if sink:
        parts.append(box(_u(rng, -length / 4, length / 4), 0.05, 0.9, 0.6, 0.42, 0.02, SINK, "metal"))
    if rng.random() < 0.7:
        parts.append(box(0, -0.12, 1.45, length, 0.35, 0.7, CABINET, "laminate"))
    if rng.random() < 0.5:
        parts.append(box(_u(rng, -length / 3, length / 3), 0.05, 0.9, 0.45, 0.3, 0.3, OTHERPROP, "metal"))
    return Obj(tuple(parts), length, 0.64)


def toilet(rng: np.random.Generator) -> Obj:
    """Bowl and tank."""
    return Obj((box(0, 0.08, 0, 0.38, 0.5, 0.4, TOILET, "ceramic"),
                box(0, -0.2, 0.35, 0.42, 0.18, 0.42, TOILET, "ceramic")), 0.42, 0.68)


def vanity(rng: np.random.Generator) -> Obj:
    """Cabinet with a sink basin on top."""
    w = _u(rng, 0.6, 1.0)
    return Obj((box(0, 0, 0, w, 0.5, 0.82, CABINET, "laminate"),
                box(0, 0.02, 0.82, 0.5, 0.4, 0.08, SINK, "ceramic")), w, 0.5)


def bathtub(rng: np.random.Generator) -> Obj:
    """Tub with an optional shower curtain along its front."""
    w = _u(rng, 1.5, 1.7)
    parts = [box(0, 0, 0, w, 0.75, 0.55, BATHTUB, "ceramic")]
    if rng.random() < 0.6:
        parts.append(box(0, 0.36, 0.6, w * _u(rng, 0.4, 0.9), 0.02, 1.4, SHOWER_CURTAIN, "curtain"))
    return Obj(tuple(parts), w, 0.75)


def plant(rng: np.random.Generator) -> Obj:
    """Pot and foliage (other prop)."""
    r = _u(rng, 0.15, 0.25)
    return Obj((cyl(0, 0, 0, r, 0.35, OTHERPROP, "cardboard"), cyl(0, 0, 0.35, r * 1.5, _u(rng, 0.4, 0.8), OTHERPROP,
                                                                    "plant")), 3 * r, 3 * r)


def bin_(rng: np.random.Generator) -> Obj:
    """Waste bin (other prop)."""
    return Obj((cyl(0, 0, 0, _u(rng, 0.13, 0.18), _u(rng, 0.3, 0.45), OTHERPROP, "metal"),), 0.36, 0.36)


def stool(rng: np.random.Generator) -> Obj:
    """Round stool (other furniture)."""
    h = _u(rng, 0.45, 0.65)
    return Obj((cyl(0, 0, h - 0.05, 0.17, 0.05, OTHERFURNITURE, "wood"), cyl(0, 0, 0, 0.03, h - 0.05, OTHERFURNITURE,
                                                                           "metal")), 0.34, 0.34)


def floor_mat(rng: np.random.Generator, w: tuple[float, float], d: tuple[float, float]) -> Obj:
    """Rug lying on the floor (1 cm)."""
    sw, sd = _u(rng, *w), _u(rng, *d)
    return Obj((box(0, 0, 0, sw, sd, 0.01, FLOOR_MAT, "carpet"),), sw, sd)
