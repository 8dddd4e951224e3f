"""FCC geometry of the 26-site environment of a 1nn Cu jump (paper §1, §3.2; lattice-facts §1-2).

The migrating atom sits at the initial site I = (0, 0, 0) and jumps to the vacant final site
F = (1, 1, 0) along [110]; coordinates are integers in units of a/2.  The 26 sites are the union
of the 1nn and 2nn shells of I and F.  Their index order is not published: the default table is
the tidy convention of lattice-facts §1.3 ("1nn-type first, then 2nn-only"), and everything here
is derived from one swappable coordinate table, so a user with another order builds a
:class:`SiteTable` from their own coordinates (or permutes the default with :meth:`SiteTable.reordered`).

Examples
--------
>>> from rbfviz.data.lattice import DEFAULT_SITES
>>> DEFAULT_SITES.num_sites
26
>>> DEFAULT_SITES.layers("100")[:6].tolist()
[0, 0, 0, 0, 0, 0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- constants
LATTICE_CONSTANT = 3.615  # Cu cubic lattice constant a, Å
HALF_A = LATTICE_CONSTANT / 2  # the coordinate unit a/2, Å
NN_DISTANCE = LATTICE_CONSTANT / np.sqrt(2)  # first-neighbour distance, Å

INITIAL_SITE = np.array([0, 0, 0])  # the migrating atom (a/2 units)
FINAL_SITE = np.array([1, 1, 0])  # the vacant target site (a/2 units)

# lattice-facts §1.3, 1-based index i -> DEFAULT_COORDS[i - 1]  (x, y, z) in a/2.
DEFAULT_COORDS = np.array(
    [
        (-1, -1, 0),
        (-1, 1, 0),
        (1, -1, 0),
        (0, 2, 0),
        (2, 0, 0),
        (2, 2, 0),  # 1-6   z = 0
        (-1, 0, 1),
        (0, -1, 1),
        (0, 1, 1),
        (1, 0, 1),
        (1, 2, 1),
        (2, 1, 1),  # 7-12  z = +1
        (-1, 0, -1),
        (0, -1, -1),
        (0, 1, -1),
        (1, 0, -1),
        (1, 2, -1),
        (2, 1, -1),  # 13-18 z = -1
        (-2, 0, 0),
        (0, -2, 0),
        (1, 3, 0),
        (3, 1, 0),  # 19-22 2nn-only, (001) plane (P2)
        (0, 0, 2),
        (0, 0, -2),
        (1, 1, 2),
        (1, 1, -2),  # 23-26 2nn-only, (1-10) plane (Q2)
    ],
    dtype=np.int64,
)

# Shell number by squared distance |r|² in (a/2)²: 1nn..5nn = 2, 4, 6, 8, 10.
_SHELL_BY_R2 = {0: 0, 2: 1, 4: 2, 6: 3, 8: 4, 10: 5}

SURFACES = ("100", "110", "111")

# Surface normal per surface, vacuum on the + side (lattice-facts §2).  The layer index of a
# site is n·p / (n·p of the nearest layer), which gives the integer columns L100, L110, L111a.
SURFACE_NORMALS = {"100": (0, 0, 1), "110": (1, -1, 0), "111": (1, -1, 1)}
_LAYER_DIVISOR = {"100": 1, "110": 1, "111": 2}  # n·p takes steps of 1, 1 and 2 between layers
LAYER_SPACING = {  # Å
    "100": LATTICE_CONSTANT / 2,
    "110": LATTICE_CONSTANT / (2 * np.sqrt(2)),
    "111": LATTICE_CONSTANT / np.sqrt(3),
}

# The four viewpoints of the paper's centroid figures (§3.2.2): the direction the viewer looks
# from, in lattice coordinates.  "[1-10]" is [1̄10] with the overline lost in the text; the
# sign convention (looking from +[1-10]) is a choice.
VIEWPOINTS = {"[110]": (1, 1, 0), "[001]": (0, 0, 1), "[1-10]": (1, -1, 0), "[031]": (0, 3, 1)}

GROUPS = ("C", "I1", "F1", "P2", "Q2")
GROUP_DESCRIPTIONS = {
    "C": "1nn of both initial and final site",
    "I1": "1nn of the initial site only",
    "F1": "1nn of the final site only",
    "P2": "2nn-only, in the (001) plane of the jump",
    "Q2": "2nn-only, in the (1-10) plane of the jump",
}


# --------------------------------------------------------------------------- small pieces
def _shell(r2: np.ndarray) -> np.ndarray:
    """Neighbour shell (1..5, 0 for the site itself, -1 beyond 5nn) from |r|² in (a/2)²."""
    return np.array([_SHELL_BY_R2.get(int(v), -1) for v in np.ravel(r2)]).reshape(np.shape(r2))


def is_fcc_site(coords: np.ndarray) -> np.ndarray:
    """True where integer a/2 coordinates lie on the FCC lattice (even coordinate sum)."""
    coords = np.asarray(coords)
    return np.sum(coords, axis=-1) % 2 == 0


def _classify(shell_i: int, shell_f: int, coord: np.ndarray) -> str:
    if shell_i == 1 and shell_f == 1:
        return "C"
    if shell_i == 1:
        return "I1"
    if shell_f == 1:
        return "F1"
    return "P2" if coord[2] == 0 else "Q2"


def transform_permutation(coords: np.ndarray, transform) -> np.ndarray:
    """Site permutation ``p`` induced by a lattice map: site ``i`` goes to site ``p[i]`` (0-based).

    Raises ``ValueError`` if the map does not send the site set onto itself.
    """
    index = {tuple(c): i for i, c in enumerate(np.asarray(coords).tolist())}
    image = [tuple(int(v) for v in transform(np.asarray(c))) for c in np.asarray(coords)]
    missing = [c for c in image if c not in index]
    if missing:
        raise ValueError(f"transform does not map the site set onto itself: {missing[0]} is not a site")
    return np.array([index[c] for c in image], dtype=np.int64)


def _mirror_001(c):
    return (c[0], c[1], -c[2])


def _mirror_1m10(c):
    return (c[1], c[0], c[2])


def _rotation_110(c):
    return (c[1], c[0], -c[2])


def _reverse_jump(c):
    return (1 - c[1], 1 - c[0], c[2])


SYMMETRY_TRANSFORMS = {
    "mirror_001": _mirror_001,  # reflection in the (001) plane
    "mirror_1-10": _mirror_1m10,  # reflection in the (1-10) plane (x <-> y)
    "rotation_110": _rotation_110,  # 180° rotation about [110]
}

# The C2v operation that keeps each surface's normal (up to sign it maps + to + ), so that an
# environment embedded in that surface maps to an equivalent one (lattice-facts §1.4, §2).
SURFACE_SYMMETRY = {"100": "mirror_1-10", "110": "mirror_001", "111": None}


# --------------------------------------------------------------------------- the public table
@dataclass(frozen=True)
class SiteTable:
    """The 26 sites of the jump environment, in one index order.

    Parameters
    ----------
    coords : array-like of int, shape (26, 3)
        Site coordinates in units of a/2, with the migrating atom at (0, 0, 0) and the vacant
        final site at (1, 1, 0).

    Examples
    --------
    >>> table = SiteTable(DEFAULT_COORDS)
    >>> table.groups[:3]
    ('I1', 'I1', 'I1')
    >>> table.reordered(np.arange(26)[::-1]).coords[0].tolist()
    [1, 1, -2]
    """

    coords: np.ndarray

    def __post_init__(self):
        coords = np.asarray(self.coords)
        if coords.ndim != 2 or coords.shape[1] != 3:
            raise ValueError(f"site coords must have shape (n_sites, 3); got {coords.shape}")
        if not np.all(coords == np.round(coords)):
            raise ValueError("site coords must be integers in units of a/2")
        coords = coords.astype(np.int64)
        if not np.all(is_fcc_site(coords)):
            bad = int(np.flatnonzero(~is_fcc_site(coords))[0])
            raise ValueError(f"site {bad + 1} at {coords[bad].tolist()} is not an FCC lattice site")
        if len({tuple(c) for c in coords.tolist()}) != len(coords):
            raise ValueError("site coords contain duplicates")
        for name, p in (("initial", INITIAL_SITE), ("final", FINAL_SITE)):
            if any((c == p).all() for c in coords):
                raise ValueError(f"the {name} site {p.tolist()} must not be one of the variable sites")
        coords.setflags(write=False)
        object.__setattr__(self, "coords", coords)

    # -- sizes and positions
    @property
    def num_sites(self) -> int:
        return len(self.coords)

    @property
    def positions(self) -> np.ndarray:
        """Cartesian positions in Å, shape (n_sites, 3)."""
        return self.coords * HALF_A

    # -- distance classes
    @property
    def shell_to_initial(self) -> np.ndarray:
        """Neighbour shell of each site relative to I (1 = 1nn ... 5 = 5nn)."""
        return _shell(np.sum(self.coords**2, axis=1))

    @property
    def shell_to_final(self) -> np.ndarray:
        """Neighbour shell of each site relative to F."""
        return _shell(np.sum((self.coords - FINAL_SITE) ** 2, axis=1))

    @property
    def groups(self) -> tuple[str, ...]:
        """Group label per site: C, I1, F1, P2 or Q2 (see :data:`GROUP_DESCRIPTIONS`)."""
        return tuple(_classify(si, sf, c) for si, sf, c in zip(self.shell_to_initial, self.shell_to_final, self.coords))

    # -- surfaces
    def layers(self, surface: str) -> np.ndarray:
        """Layer index of each site relative to the migrating atom's layer (vacuum is +).

        Parameters
        ----------
        surface : {"100", "110", "111"}
        """
        normal = np.asarray(SURFACE_NORMALS[check_surface(surface)])
        return (self.coords @ normal) // _LAYER_DIVISOR[surface]

    # -- symmetry
    def permutation(self, name: str) -> np.ndarray:
        """0-based permutation of a named map: ``"mirror_001"``, ``"mirror_1-10"``,
        ``"rotation_110"`` or ``"reverse_jump"``.  ``X[:, p]`` is ``X`` with site ``i`` taking
        the value of site ``p[i]``; since these maps are involutions, ``p`` is its own inverse."""
        transforms = {**SYMMETRY_TRANSFORMS, "reverse_jump": _reverse_jump}
        if name not in transforms:
            raise ValueError(f"unknown symmetry {name!r}; expected one of {sorted(transforms)}")
        return transform_permutation(self.coords, transforms[name])

    def reordered(self, order) -> SiteTable:
        """The same sites in another order: new site ``j`` is old site ``order[j]`` (0-based)."""
        order = np.asarray(order)
        if sorted(order.tolist()) != list(range(self.num_sites)):
            raise ValueError(f"order must be a permutation of 0..{self.num_sites - 1}")
        return SiteTable(self.coords[order])


def check_surface(surface) -> str:
    """Normalise a surface name ("100", "{100}", 100, ...) or raise a clear ``ValueError``."""
    name = str(surface).strip().strip("{}()").replace(" ", "")
    if name not in SURFACES:
        raise ValueError(f"surface must be one of {SURFACES}; got {surface!r}")
    return name


DEFAULT_SITES = SiteTable(DEFAULT_COORDS)
