"""STOM Desktop: a system-tray workstation for personal algorithmic trading."""

__version__ = "0.1.0"
