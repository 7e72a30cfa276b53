"""WCAG 2 colour contrast of computed CSS colours, for the browser tests' focus-ring checks."""

from __future__ import annotations

import re

RGB = tuple[float, float, float]
WHITE: RGB = (255.0, 255.0, 255.0)


def rgba(css: str) -> tuple[float, float, float, float]:
    """A computed CSS colour, "rgb(r, g, b)" or "rgba(r, g, b, a)", as numbers."""
    found = re.fullmatch(r"rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)", css)
    assert found, f"not a computed colour: {css}"
    red, green, blue, alpha = found.groups()
    return float(red), float(green), float(blue), 1.0 if alpha is None else float(alpha)


def over(top: str, below: RGB) -> RGB:
    """The colour ``top`` (which may be see-through) shows over the colour ``below``."""
    *rgb, alpha = rgba(top)
    red, green, blue = (alpha * c + (1 - alpha) * b for c, b in zip(rgb, below, strict=True))
    return red, green, blue


def opaque(backgrounds: list[str]) -> RGB:
    """The first solid colour in a list of backgrounds, nearest first (white if none)."""
    for css in backgrounds:
        *rgb, alpha = rgba(css)
        if alpha == 1:
            return rgb[0], rgb[1], rgb[2]
    return WHITE


def luminance(rgb: RGB) -> float:
    """WCAG 2's relative luminance of an sRGB colour."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(c) for c in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(one: RGB, other: RGB) -> float:
    """WCAG 2's contrast ratio, from 1 (the same) to 21 (black on white)."""
    dark, light = sorted((luminance(one), luminance(other)))
    return (light + 0.05) / (dark + 0.05)
