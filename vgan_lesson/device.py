"""Device selection in one place.

``get_device()`` returns CUDA when a GPU is present, else the CPU. Override it with an explicit
argument (``get_device("cpu")``) or the environment variable ``VGAN_DEVICE`` (e.g. ``cuda:1``).
"""
from __future__ import annotations

import os

import torch

ENV_VAR = "VGAN_DEVICE"


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """Pick the device to compute on.

    Order: the ``prefer`` argument, then ``$VGAN_DEVICE``, then ``cuda`` if available, else ``cpu``.
    Asking for CUDA on a machine without it raises a ``ValueError`` instead of failing later.
    """
    choice = prefer if prefer is not None else os.environ.get(ENV_VAR) or None
    if choice is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(choice)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"expected a device name like 'cpu', 'cuda' or 'cuda:0', got {choice!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {choice!r} was requested but CUDA is not available on this machine; use 'cpu'")
    return device
