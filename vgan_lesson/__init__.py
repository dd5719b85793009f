"""vgan_lesson: notebook-first lessons on encoder-enabled GAN video generation.

Tensor convention everywhere: a batch of videos is ``(N, C, T, H, W)`` float in [-1, 1],
one video is ``(C, T, H, W)``, a batch of frames is ``(N, C, H, W)``.
"""
from .device import get_device

__version__ = "0.1.0"
__all__ = ["get_device", "__version__"]
