"""Weighted sums of named losses, e.g. Jiao's attention-driven loss ``"da+jg+focal"``.

``build("combo", terms={"da": 1.0, "jg": 1.0, "focal": 1.0}, options={"da": {"base": "berhu"}})``
or ``build("combo", terms="l1+grad*2")``. Each term is built with
:func:`depthstudy.losses.build` and its own options; the result is
``{"total": sum_n w_n * term_n["total"], n: term_n["total"] for each term n}`` (entries unweighted).
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

from torch import Tensor, nn

from . import LOSSES

__all__ = ["ComboLoss", "parse_terms"]

_TERM = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(?:\*\s*([0-9]*\.?[0-9]+(?:[eE]-?[0-9]+)?))?\s*$")


def parse_terms(spec: str | Mapping[str, float]) -> dict[str, float]:
    """Name -> weight from a mapping or a string ``"a+b*2+c"`` (weight 1 where none is given).

    Raises ``ValueError`` for unknown names (listing the valid ones), duplicates, a malformed
    string or a weight that is not a finite number >= 0.
    """
    if isinstance(spec, str):
        terms: dict[str, float] = {}
        for part in spec.split("+"):
            match = _TERM.match(part)
            if match is None:
                raise ValueError(
                    f"combo: cannot parse term {part!r} of {spec!r}; expected 'name' or 'name*weight'"
                )
            name = match.group(1)
            if name in terms:
                raise ValueError(f"combo: term {name!r} appears twice in {spec!r}")
            terms[name] = float(match.group(2)) if match.group(2) else 1.0
    elif isinstance(spec, Mapping):
        terms = {str(k): float(v) for k, v in spec.items()}
    else:
        raise TypeError(
            f"combo: terms must be a dict name -> weight or a string like 'da+jg+focal'; got {type(spec).__name__}"
        )
    if not terms:
        raise ValueError("combo: terms is empty; give at least one loss name")
    valid = [n for n in LOSSES.names() if n != "combo"]
    for name, weight in terms.items():
        if name not in valid:
            raise ValueError(f"combo: unknown term {name!r}; valid names: {', '.join(valid)}")
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"combo: weight of {name!r} must be a finite number >= 0; got {weight}")
    return terms


@LOSSES.register("combo")
class ComboLoss(nn.Module):
    """Weighted sum of losses built by name.

    Args:
        terms: name -> weight, or a string ``"a+b+c"`` / ``"l1+grad*2"``. Decision J12: Jiao's
            L_attention = L_DA + L_JG + L_semF is ``"da+jg+focal"`` with weights 1, 1, 1.
        options: name -> keyword options for that term's builder (only names in ``terms``).
    """

    def __init__(self, terms: str | Mapping[str, float], options: Mapping[str, Mapping[str, Any]] | None = None):
        super().__init__()
        self.term_weights = parse_terms(terms)
        options = dict(options or {})
        extra = sorted(set(options) - set(self.term_weights))
        if extra:
            raise ValueError(f"combo: options given for {extra}, which are not terms {sorted(self.term_weights)}")
        self.terms = nn.ModuleDict({n: LOSSES.build(n, **dict(options.get(n, {}))) for n in self.term_weights})

    def set_step(self, step: int) -> None:
        """Pass the training step to every term that counts steps (the hierarchical warm-up)."""
        for term in self.terms.values():
            if hasattr(term, "set_step"):
                term.set_step(step)

    def forward(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> dict[str, Tensor]:
        result: dict[str, Tensor] = {}
        total = None
        for name, term in self.terms.items():
            value = term(outputs, batch)["total"]
            result[name] = value
            weighted = self.term_weights[name] * value
            total = weighted if total is None else total + weighted
        return {"total": total, **result}

    def extra_repr(self) -> str:
        return "terms=" + "+".join(f"{n}*{w:g}" for n, w in self.term_weights.items())
