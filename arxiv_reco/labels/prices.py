"""What labelling costs: Gemini's list prices in one table, and the arithmetic on it.

    price("gemini-2.5-flash")                 # (0.30, 2.50) USD per 1M input / output tokens
    cost("gemini-2.5-flash", 843_000, 16_000, batch=True)

Check https://ai.google.dev/pricing; pass ``prices={"model": (input, output)}`` to override.
"""

from __future__ import annotations

from collections.abc import Mapping

# USD per 1M tokens (input, output), paid tier, text prompts up to 200k tokens. Batch mode is
# half price. Override with `prices={"model": (input, output)}`; check ai.google.dev/pricing.
PRICES: dict[str, tuple[float, float]] = {
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.0-flash-lite": (0.075, 0.30),
}

BATCH_DISCOUNT = 0.5


def price(model: str, batch: bool = False, prices: Mapping[str, tuple[float, float]] | None = None
          ) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens for ``model``; the most specific name in the table wins
    ("gemini-2.5-flash-lite-preview" is priced as flash-lite, not flash). None when unknown.

    >>> price("gemini-2.5-flash", batch=True)
    (0.15, 1.25)
    """
    table = {**PRICES, **(prices or {})}
    name = model.removeprefix("models/")
    prefixes = sorted((k for k in table if name.startswith(k + "-")), key=len, reverse=True)
    p = table.get(name) or (table[prefixes[0]] if prefixes else None)
    if p is None:
        return None
    f = BATCH_DISCOUNT if batch else 1.0
    return p[0] * f, p[1] * f


def cost(model: str, input_tokens: int, output_tokens: int, batch: bool = False,
         prices: Mapping[str, tuple[float, float]] | None = None) -> float | None:
    """USD for a number of tokens; None when the model has no price."""
    p = price(model, batch, prices)
    return None if p is None else (input_tokens * p[0] + output_tokens * p[1]) / 1e6
