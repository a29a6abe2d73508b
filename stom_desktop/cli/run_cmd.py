"""``stom run``: the main job on the embedded defaults."""

from __future__ import annotations


def run() -> None:
    """Run the main job (pending)."""
    raise NotImplementedError("stom run is being wired")
