"""Scene sampling of SynthRooms: room box, furniture by scene type, light and cameras.

Everything is drawn from ``numpy.random.Generator``s seeded by ``SeedSequence([seed, scene, ...])``
so a scene depends only on (seed, scene) and a camera only on (seed, scene, view).

World frame: metres, the room spans x in [0, W], y in [0, D], z in [0, H], z up. Camera frame:
OpenCV (x right, y down, z forward). Primitive table rows 0..5 are the room faces (floor,
ceiling, walls x=0, x=W, y=0, y=D); furniture follows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import objects as O
from .materials import MATERIALS

SCENE_TYPES: tuple[str, ...] = (
    "bedroom", "kitchen", "living_room", "bathroom", "dining_room", "office", "classroom", "bookstore",
)
# Relative frequencies loosely follow NYU-Depth V2's scene-type counts (bedrooms most common).
_TYPE_WEIGHTS = np.array([0.26, 0.17, 0.17, 0.09, 0.1, 0.1, 0.05, 0.06])
# Room size ranges (width along x, depth along y, height), metres, within 2.5-8 x 3-12 x 2.4-3.2.
_ROOM_SIZE = {
    "bedroom": ((2.8, 4.5), (3.2, 5.5)), "kitchen": ((2.5, 4.2), (3.0, 5.5)),
    "living_room": ((3.5, 6.0), (4.0, 8.0)), "bathroom": ((2.5, 3.2), (3.0, 4.0)),
    "dining_room": ((3.0, 5.0), (3.5, 6.0)), "office": ((3.0, 6.0), (4.0, 8.0)),
    "classroom": ((6.0, 8.0), (7.0, 12.0)), "bookstore": ((4.0, 8.0), (5.0, 12.0)),
}
_FLOOR = {"bathroom": "floor_tile", "kitchen": "floor_tile", "classroom": "floor_tile", "bookstore": "floor_wood"}

ROOM_FACES = 6
CAMERA_HEIGHT = (1.0, 1.8)
CAMERA_CLEARANCE = 0.3    # metres between the camera and any furniture footprint
WALL_MARGIN = 0.45        # metres between the camera and the walls


@dataclass
class Scene:
    """One furnished room. Primitive arrays have one row per primitive (P rows, float32 unless noted).

    ``kind`` (int64): 0 room face, 1 box, 2 vertical cylinder. ``center``/``half`` [P,3]: box centre
    and half extents in its yawed frame (cylinder: half = (r, r, h/2)). ``label`` (int64): 1-based
    NYU-40. ``color`` [P,3] base albedo; ``pattern`` (int64), ``pscale``, ``contrast``, ``ir_drop``,
    ``emissive``, ``phase``, ``tag`` (int64 hash seed) per :mod:`.materials`.
    """

    scene: int
    scene_type: str
    size: np.ndarray          # [3] W, D, H
    kind: np.ndarray
    center: np.ndarray
    half: np.ndarray
    yaw: np.ndarray
    label: np.ndarray
    color: np.ndarray
    pattern: np.ndarray
    pscale: np.ndarray
    contrast: np.ndarray
    ir_drop: np.ndarray
    emissive: np.ndarray
    phase: np.ndarray
    tag: np.ndarray
    light: np.ndarray         # [3] point light position
    sun: np.ndarray           # [3] unit direction the daylight travels
    footprints: np.ndarray    # [F,4] xmin, xmax, ymin, ymax of solid furniture
    free_spot: np.ndarray     # [2] a reserved furniture-free point (fallback camera position)


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """Independent generator for (seed, keys...); all keys must be >= 0."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, keys)]))


class _Builder:
    """Accumulates primitives and floor footprints while furnishing one room."""

    def __init__(self, rng: np.random.Generator, size: np.ndarray):
        self.rng, self.size = rng, size
        self.parts: list[O.Part] = []
        self.mats: list[tuple[np.ndarray, str]] = []
        self.foot: list[tuple[float, float, float, float]] = []
        self.wall_spans: dict[int, list[tuple[float, float]]] = {k: [] for k in range(4)}

    def wall_frame(self, wall: int) -> tuple[np.ndarray, float, float]:
        """Start corner, yaw (local +y points into the room) and length of wall 0..3 (y=0, x=W, y=D, x=0)."""
        w, d, _ = self.size
        start = [(0, 0), (w, 0), (w, d), (0, d)][wall]
        return np.array(start, float), [0.0, math.pi / 2, math.pi, 1.5 * math.pi][wall], [w, d, w, d][wall]

    def free(self, rect: tuple[float, float, float, float], margin: float = 0.05) -> bool:
        x0, x1, y0, y1 = rect
        w, d, _ = self.size
        if x0 < -1e-6 or y0 < -1e-6 or x1 > w + 1e-6 or y1 > d + 1e-6:
            return False
        return all(x1 + margin <= a or x0 - margin >= b or y1 + margin <= c or y0 - margin >= e
                   for a, b, c, e in self.foot)

    def commit(self, obj: O.Obj, x: float, y: float, yaw: float, solid: bool = True) -> None:
        """Add ``obj`` at (x, y) with ``yaw``; one colour per material within the object."""
        colors: dict[str, np.ndarray] = {}
        for p in O.moved(obj.parts, x, y, yaw):
            if p.material not in colors:
                colors[p.material] = self.color(p.material)
            self.parts.append(p)
            self.mats.append((colors[p.material], p.material))
        if solid:
            self.foot.append(_rect(obj, x, y, yaw))

    def color(self, material: str) -> np.ndarray:
        pal = MATERIALS[material].colors
        base = np.array(pal[int(self.rng.integers(len(pal)))], float)
        return np.clip(base * self.rng.uniform(0.85, 1.15) + self.rng.normal(0, 0.03, 3), 0.02, 1.0)

    def against_wall(self, obj: O.Obj, tries: int = 20, wall: int | None = None) -> bool:
        """Place ``obj`` with its back to a wall, avoiding other footprints."""
        for _ in range(tries):
            k = int(self.rng.integers(4)) if wall is None else wall
            start, yaw, length = self.wall_frame(k)
            if obj.width + 0.1 > length:
                continue
            s = self.rng.uniform(obj.width / 2 + 0.05, length - obj.width / 2 - 0.05)
            ax, ay = math.cos(yaw), math.sin(yaw)
            dist = obj.depth / 2 + 0.01
            x, y = start[0] + s * ax - dist * ay, start[1] + s * ay + dist * ax
            if self.free(_rect(obj, x, y, yaw)):
                self.commit(obj, x, y, yaw)
                return True
        return False

    def in_room(self, obj: O.Obj, yaw: float | None = None, solid: bool = True, tries: int = 20) -> bool:
        """Place ``obj`` anywhere on the floor (``yaw`` None: axis-aligned or random)."""
        w, d, _ = self.size
        for _ in range(tries):
            a = yaw if yaw is not None else (
                float(self.rng.integers(4)) * math.pi / 2 if self.rng.random() < 0.6
                else self.rng.uniform(0, 2 * math.pi))
            r = 0.5 * math.hypot(obj.width, obj.depth)
            if 2 * r + 0.2 > min(w, d):
                continue
            x, y = self.rng.uniform(r + 0.1, w - r - 0.1), self.rng.uniform(r + 0.1, d - r - 0.1)
            if not solid or self.free(_rect(obj, x, y, a)):
                self.commit(obj, x, y, a, solid)
                return True
        return False

    def on_wall(self, label: int, mat: str, width: float, z0: float, height: float, exclusive: bool,
                tries: int = 20, thickness: float = 0.04) -> tuple[int, float] | None:
        """Thin box on a wall (door, window, picture...); ``exclusive`` items do not overlap each other.

        Returns (wall, position along it) or None when no place was found.
        """
        for _ in range(tries):
            k = int(self.rng.integers(4))
            start, yaw, length = self.wall_frame(k)
            if width + 0.3 > length:
                continue
            s = self.rng.uniform(width / 2 + 0.15, length - width / 2 - 0.15)
            if exclusive and any(s + width / 2 > a and s - width / 2 < b for a, b in self.wall_spans[k]):
                continue
            ax, ay = math.cos(yaw), math.sin(yaw)
            x, y = start[0] + s * ax - thickness / 2 * ay, start[1] + s * ay + thickness / 2 * ax
            self.commit(O.Obj((O.box(0, 0, z0, width, thickness, height, label, mat),), width, thickness),
                        x, y, yaw, solid=False)
            if exclusive:
                self.wall_spans[k].append((s - width / 2 - 0.1, s + width / 2 + 0.1))
            return k, s
        return None

    def door(self) -> None:
        """Door with a reserved clearance area in front of it."""
        placed = self.on_wall(O.DOOR, "wood", self.rng.uniform(0.8, 0.92), 0.0, self.rng.uniform(2.0, 2.1), True)
        if placed is not None:
            start, yaw, _ = self.wall_frame(placed[0])
            ax, ay = math.cos(yaw), math.sin(yaw)
            x, y = start[0] + placed[1] * ax - 0.45 * ay, start[1] + placed[1] * ay + 0.45 * ax
            self.foot.append(_rect(O.Obj((), 0.9, 0.9), x, y, yaw))

    def window(self, dressing: bool) -> None:
        """Window (daylight glass), optionally with blinds or curtains."""
        w, z0 = self.rng.uniform(0.8, 1.8), self.rng.uniform(0.8, 1.0)
        h = min(self.size[2] - 0.3, self.rng.uniform(2.0, 2.3)) - z0
        placed = self.on_wall(O.WINDOW, "glass", w, z0, h, True, thickness=0.02)
        if placed is None or not dressing:
            return
        k, s = placed
        start, yaw, _ = self.wall_frame(k)
        ax, ay = math.cos(yaw), math.sin(yaw)
        if self.rng.random() < 0.5:
            x, y = start[0] + s * ax - 0.06 * ay, start[1] + s * ay + 0.06 * ax
            blind = O.Obj((O.box(0, 0, z0 + h * 0.5, w, 0.02, h * 0.5, O.BLINDS, "blinds"),), w, 0.02)
            self.commit(blind, x, y, yaw, solid=False)
            return
        top = self.size[2] - 0.1
        for side in (-1, 1):
            off = s + side * (w / 2 + 0.1)
            x, y = start[0] + off * ax - 0.08 * ay, start[1] + off * ay + 0.08 * ax
            panel = O.Obj((O.box(0, 0, 0.02, 0.35, 0.06, top - 0.02, O.CURTAIN, "curtain"),), 0.35, 0.06)
            self.commit(panel, x, y, yaw, solid=False)

    def decor(self, n_pictures: int) -> None:
        for _ in range(n_pictures):
            w = self.rng.uniform(0.3, 1.0)
            self.on_wall(O.PICTURE, "picture", w, self.rng.uniform(1.2, 1.6), w * self.rng.uniform(0.6, 1.1), False,
                         thickness=0.03)


def _rect(obj: O.Obj, x: float, y: float, yaw: float) -> tuple[float, float, float, float]:
    """Axis-aligned bounding rectangle of the yawed footprint."""
    c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
    hx, hy = (c * obj.width + s * obj.depth) / 2, (s * obj.width + c * obj.depth) / 2
    return x - hx, x + hx, y - hy, y + hy


def _furnish(b: _Builder, scene_type: str) -> None:
    """Scene-type recipes: which objects, how many, where."""
    r, rng = b.rng, b.rng
    n = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    if scene_type == "bedroom":
        b.against_wall(O.bed(r))
        for _ in range(n(1, 2)):
            b.against_wall(O.night_stand(r))
        if r.random() < 0.7:
            b.against_wall(O.block(r, O.DRESSER, "wood", (0.9, 1.4), (0.45, 0.55), (0.75, 1.0)))
        if r.random() < 0.5:
            b.against_wall(O.block(r, O.CABINET, "wood", (0.9, 1.5), (0.55, 0.62), (1.9, 2.1)))
        if r.random() < 0.4:
            b.against_wall(O.desk(r, monitor=False))
        b.in_room(O.floor_mat(r, (1.0, 1.8), (0.7, 1.2)), solid=False)
        b.decor(n(0, 2))
    elif scene_type == "kitchen":
        b.against_wall(O.kitchen_run(r, r.uniform(1.8, min(3.6, b.size[0] - 0.2)), sink=True), wall=0)
        if r.random() < 0.6:
            b.against_wall(O.kitchen_run(r, r.uniform(1.2, min(3.0, b.size[1] - 1.0)), sink=False), wall=1)
        b.against_wall(O.block(r, O.FRIDGE, "metal", (0.65, 0.8), (0.65, 0.72), (1.7, 1.9)))
        if r.random() < 0.6:
            b.in_room(O.round_table(r) if r.random() < 0.4 else O.dining_set(r))
        for _ in range(n(0, 2)):
            b.in_room(O.stool(r))
    elif scene_type == "living_room":
        b.against_wall(O.sofa(r))
        b.against_wall(O.tv_stand(r))
        b.in_room(O.table(r, r.uniform(0.9, 1.3), r.uniform(0.5, 0.7), r.uniform(0.38, 0.45)))
        for _ in range(n(0, 2)):
            b.in_room(O.chair(r))
        if r.random() < 0.6:
            b.against_wall(O.block(r, O.SHELVES, "wood", (0.8, 1.6), (0.3, 0.4), (0.8, 1.9)))
        b.in_room(O.floor_lamp(r))
        b.in_room(O.floor_mat(r, (1.4, 2.4), (1.0, 1.8)), solid=False)
        b.in_room(O.plant(r))
        b.decor(n(1, 3))
    elif scene_type == "bathroom":
        b.against_wall(O.toilet(r))
        b.against_wall(O.vanity(r))
        if r.random() < 0.7:
            b.against_wall(O.bathtub(r))
        b.on_wall(O.MIRROR, "mirror", r.uniform(0.5, 0.9), 1.1, r.uniform(0.6, 0.9), False, thickness=0.02)
        for _ in range(n(1, 2)):
            b.on_wall(O.TOWEL, "fabric", r.uniform(0.3, 0.5), r.uniform(0.6, 1.0), r.uniform(0.5, 0.7), False,
                      thickness=0.05)
        b.in_room(O.floor_mat(r, (0.5, 0.8), (0.4, 0.6)), solid=False)
        b.in_room(O.bin_(r))
    elif scene_type == "dining_room":
        b.in_room(O.dining_set(r), yaw=float(r.integers(2)) * math.pi / 2)
        b.against_wall(O.block(r, O.CABINET, "wood", (1.2, 1.8), (0.45, 0.55), (0.8, 1.0)))
        if r.random() < 0.5:
            b.against_wall(O.block(r, O.SHELVES, "wood", (0.8, 1.2), (0.35, 0.4), (1.5, 1.9)))
        b.in_room(O.pendant_lamp(r, float(b.size[2])), solid=False)
        b.in_room(O.plant(r))
        b.decor(n(1, 2))
    elif scene_type == "office":
        for _ in range(n(1, 4)):
            b.against_wall(O.desk(r, monitor=True))
        for _ in range(n(1, 3)):
            b.in_room(O.office_chair(r))
        b.against_wall(O.bookshelf(r) if r.random() < 0.5 else O.block(r, O.SHELVES, "metal", (0.8, 1.2),
                                                                           (0.35, 0.45), (1.6, 2.0)))
        b.against_wall(O.block(r, O.CABINET, "metal", (0.45, 0.9), (0.55, 0.65), (0.7, 1.3)))
        for _ in range(n(0, 3)):
            b.in_room(O.block(r, O.BOX, "cardboard", (0.3, 0.6), (0.3, 0.5), (0.25, 0.5)))
        b.in_room(O.bin_(r))
        b.on_wall(O.WHITEBOARD, "whiteboard", r.uniform(1.2, 2.0), 0.9, r.uniform(0.9, 1.2), True, thickness=0.03)
    elif scene_type == "classroom":
        rows, cols = n(2, 4), n(2, 3)
        w, d = b.size[:2]
        for i in range(rows):
            for j in range(cols):
                x = (j + 0.5) * (w - 1.0) / cols + 0.5
                y = 1.8 + i * (d - 3.0) / rows
                desk = O.desk(r, monitor=False)
                if b.free(_rect(desk, x, y, 0.0)):
                    b.commit(desk, x, y, 0.0)
                    seat = O.chair(r, legs=False)
                    if b.free(_rect(seat, x, y + desk.depth / 2 + 0.35, math.pi)):
                        b.commit(seat, x, y + desk.depth / 2 + 0.35, math.pi)
        b.on_wall(O.WHITEBOARD, "whiteboard", r.uniform(1.8, 2.4), 0.9, r.uniform(1.0, 1.2), True, thickness=0.03)
        b.against_wall(O.desk(r, monitor=False))
        for _ in range(n(0, 2)):
            b.against_wall(O.block(r, O.CABINET, "laminate", (0.8, 1.2), (0.4, 0.5), (0.9, 1.8)))
    elif scene_type == "bookstore":
        for _ in range(n(3, 7)):
            b.against_wall(O.bookshelf(r))
        for _ in range(n(1, 4)):
            b.in_room(O.bookshelf(r, double_sided=True), yaw=float(r.integers(2)) * math.pi / 2)
        b.in_room(O.table(r, r.uniform(1.0, 1.6), r.uniform(0.7, 0.9), 0.75))
        b.against_wall(O.block(r, O.COUNTER, "wood", (1.2, 2.0), (0.5, 0.7), (0.9, 1.05)))
        for _ in range(n(0, 3)):
            b.in_room(O.block(r, O.BOX, "cardboard", (0.3, 0.6), (0.3, 0.5), (0.25, 0.5)))
    else:
        raise ValueError(f"scene_type={scene_type!r}: expected one of {SCENE_TYPES}")
    if r.random() < 0.4:
        b.in_room(O.block(r, O.BAG, "fabric", (0.25, 0.4), (0.15, 0.25), (0.25, 0.4)))


def sample_scene(seed: int, scene: int) -> Scene:
    """Draw the room, its furniture and its light for scene instance ``scene``."""
    rng = rng_for(seed, scene, 0)
    scene_type = SCENE_TYPES[int(rng.choice(len(SCENE_TYPES), p=_TYPE_WEIGHTS / _TYPE_WEIGHTS.sum()))]
    (w0, w1), (d0, d1) = _ROOM_SIZE[scene_type]
    size = np.array([rng.uniform(w0, w1), rng.uniform(d0, d1), rng.uniform(2.4, 3.2)])
    b = _Builder(rng, size)
    # A furniture-free disc, so that a valid camera position always exists.
    spot = np.array([rng.uniform(0.8, size[0] - 0.8), rng.uniform(0.8, size[1] - 0.8)])
    b.foot.append((spot[0] - 0.6, spot[0] + 0.6, spot[1] - 0.6, spot[1] + 0.6))
    b.door()
    for _ in range(int(rng.integers(0, 3)) if scene_type != "bathroom" else 1):
        b.window(dressing=scene_type != "bathroom")
    _furnish(b, scene_type)
    b.foot.pop(0)
    return _assemble(b, seed, scene, scene_type, spot)


def _room_faces(b: _Builder, scene_type: str) -> list[tuple[np.ndarray, str, int]]:
    floor_mat = _FLOOR.get(scene_type, ["floor_wood", "carpet", "floor_tile"][int(b.rng.integers(3))])
    wall = b.color("paint")
    return [(b.color(floor_mat), floor_mat, O.FLOOR), (b.color("ceiling"), "ceiling", O.CEILING)] + [
        (wall, "paint", O.WALL)] * 4


def _assemble(b: _Builder, seed: int, scene: int, scene_type: str, spot: np.ndarray) -> Scene:
    rng = b.rng
    faces = _room_faces(b, scene_type)
    n = ROOM_FACES + len(b.parts)
    kind = np.zeros(n, np.int64)
    center, half = np.zeros((n, 3), np.float32), np.zeros((n, 3), np.float32)
    yaw = np.zeros(n, np.float32)
    label = np.array([f[2] for f in faces] + [p.label for p in b.parts], np.int64)
    color = np.array([f[0] for f in faces] + [c for c, _ in b.mats], np.float32)
    mats = [MATERIALS[f[1]] for f in faces] + [MATERIALS[m] for _, m in b.mats]
    for i, p in enumerate(b.parts, start=ROOM_FACES):
        kind[i], center[i], half[i], yaw[i] = p.kind, p.center, np.array(p.size) / 2, p.yaw % (2 * math.pi)
        quarter = yaw[i] / (math.pi / 2)
        if p.kind == O.CYL_KIND or abs(quarter - round(quarter)) < 1e-6:
            # Axis-aligned: store yaw 0 with the extents swapped for odd quarter turns, so the ray
            # caster can skip the rotation (textures follow the longer horizontal axis either way).
            if p.kind == O.BOX_KIND and round(quarter) % 2 == 1:
                half[i, [0, 1]] = half[i, [1, 0]]
            yaw[i] = 0.0
    light = np.array([rng.uniform(0.25, 0.75) * b.size[0], rng.uniform(0.25, 0.75) * b.size[1], b.size[2] - 0.2])
    az, el = rng.uniform(0, 2 * math.pi), rng.uniform(0.3, 0.8)
    sun = -np.array([math.cos(az) * math.cos(el), math.sin(az) * math.cos(el), math.sin(el)])
    return Scene(
        scene=scene, scene_type=scene_type, size=b.size.astype(np.float32), kind=kind, center=center, half=half,
        yaw=yaw, label=label, color=color,
        pattern=np.array([m.pattern for m in mats], np.int64),
        pscale=np.array([m.scale for m in mats], np.float32),
        contrast=np.array([m.contrast for m in mats], np.float32),
        ir_drop=np.array([m.ir_drop for m in mats], np.float32),
        emissive=np.array([m.emissive for m in mats], np.float32),
        phase=rng.uniform(0, 2 * math.pi, n).astype(np.float32),
        tag=rng.integers(0, 2**20, n).astype(np.int64),
        light=light.astype(np.float32), sun=sun.astype(np.float32),
        footprints=np.array(b.foot, np.float32).reshape(-1, 4), free_spot=spot.astype(np.float32),
    )


def _clear(scene: Scene, x: float, y: float, margin: float) -> bool:
    w, d, _ = scene.size
    if not (WALL_MARGIN <= x <= w - WALL_MARGIN and WALL_MARGIN <= y <= d - WALL_MARGIN):
        return False
    f = scene.footprints
    return not np.any((x > f[:, 0] - margin) & (x < f[:, 1] + margin) & (y > f[:, 2] - margin) & (y < f[:, 3] + margin))


def sample_camera(scene: Scene, seed: int, view: int) -> tuple[np.ndarray, np.ndarray]:
    """Camera pose of ``view``: (origin [3], rotation [3,3] camera-to-world, columns right/down/forward).

    Height 1.0-1.8 m, yaw uniform, pitch ~ N(-8 deg, 6 deg) clipped to [-25, 10] deg, roll ~ N(0, 2.5 deg)
    clipped to +-6 deg. The camera stands >= 0.45 m from the walls and >= 0.3 m from every furniture
    footprint, and looks (3 times in 4 towards a random piece of furniture, +-25 deg) along a direction
    that is free of furniture for 0.9 m and >= 1.8 m from the facing wall (NYU frames rarely look at a
    surface closer than about 1 m). After 300 rejected draws the reserved free spot of the scene is used
    with the most open yaw found.
    """
    rng = rng_for(seed, scene.scene, 1, view)
    pitch = math.radians(float(np.clip(rng.normal(-8, 6), -25, 10)))
    roll = math.radians(float(np.clip(rng.normal(0, 2.5), -6, 6)))
    height = rng.uniform(*CAMERA_HEIGHT)
    best = (-1.0, float(scene.free_spot[0]), float(scene.free_spot[1]), 0.0)
    for attempt in range(300):
        if attempt < 240:
            x, y = rng.uniform(0, scene.size[0]), rng.uniform(0, scene.size[1])
        else:
            x, y = float(scene.free_spot[0]), float(scene.free_spot[1])
        if not _clear(scene, x, y, CAMERA_CLEARANCE):
            continue
        yaw = rng.uniform(0, 2 * math.pi)
        if len(scene.footprints) and rng.random() < 0.75:
            fx0, fx1, fy0, fy1 = scene.footprints[int(rng.integers(len(scene.footprints)))]
            yaw = math.atan2((fy0 + fy1) / 2 - y, (fx0 + fx1) / 2 - x) + rng.normal(0, math.radians(25))
        reach = _open_distance(scene, x, y, yaw)
        if reach > best[0]:
            best = (reach, x, y, yaw)
        if reach >= 1.8:
            break
    _, x, y, yaw = best
    return np.array([x, y, height], np.float32), _rotation(yaw, pitch, roll)


def _open_distance(scene: Scene, x: float, y: float, yaw: float) -> float:
    """Horizontal distance to the wall along ``yaw``, or 0 if furniture lies within 0.9 m."""
    c, s = math.cos(yaw), math.sin(yaw)
    f = scene.footprints
    for step in (0.3, 0.6, 0.9):
        px, py = x + step * c, y + step * s
        if np.any((px > f[:, 0]) & (px < f[:, 1]) & (py > f[:, 2]) & (py < f[:, 3])):
            return 0.0
    w, d, _ = scene.size
    tx = ((w - x) / c if c > 0 else -x / c) if abs(c) > 1e-9 else math.inf
    ty = ((d - y) / s if s > 0 else -y / s) if abs(s) > 1e-9 else math.inf
    return min(tx, ty)


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-to-world rotation: columns are the camera's right, down and forward axes in world."""
    f = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)])
    r = np.cross(f, [0.0, 0.0, 1.0])
    r /= np.linalg.norm(r)
    dn = np.cross(f, r)
    c, s = math.cos(roll), math.sin(roll)
    r, dn = c * r + s * dn, -s * r + c * dn
    return np.stack([r, dn, f], axis=1).astype(np.float32)
