"""Study definitions as data (variant tables) and study-specific training helpers.

``depthstudy.studies.cliffnet``: CLIFFNet's HEG training, loss comparison and CLIFF ablations.
``depthstudy.studies.jiao``: Jiao et al.'s structure, branch-split, attention-loss, depth-range
and weak-supervision studies.
"""
