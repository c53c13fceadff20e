"""depthstudy: a notebook-driven reproduction study of two monocular depth papers.

- Jiao et al., "Look Deeper into Depth", ECCV 2018 (supplementary material).
- Wang et al., "CLIFFNet for Monocular Depth Estimation with Hierarchical Embedding Loss", ECCV 2020.

Sub-packages: ``data`` (SynthRooms, NYU-Depth V2), ``models``, ``losses``, ``engine``,
``analysis``; modules ``metrics``, ``results``, ``profiles``, ``runner``, ``viz``, ``cli``.
"""

__version__ = "0.1.0"
