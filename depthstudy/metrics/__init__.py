"""Evaluation metrics: depth metrics under named protocols (held as data in
``depthstudy/protocols.yaml``) and dataset-level semantic metrics.

- :func:`depth_metrics`, :func:`per_image_metrics`, ``DEPTH_METRIC_KEYS`` (module ``depth``)
- :func:`protocols`, :func:`get_protocol`, :class:`Protocol` (module ``protocols``)
- :class:`ConfusionMatrix`, :func:`semantic_metrics` (module ``semantic``)
"""

from depthstudy.metrics.depth import DEPTH_METRIC_KEYS, depth_metrics, per_image_metrics
from depthstudy.metrics.protocols import Protocol, get_protocol, load_protocols, protocols
from depthstudy.metrics.semantic import ConfusionMatrix, semantic_metrics

__all__ = [
    "DEPTH_METRIC_KEYS", "depth_metrics", "per_image_metrics",
    "Protocol", "get_protocol", "load_protocols", "protocols",
    "ConfusionMatrix", "semantic_metrics",
]
