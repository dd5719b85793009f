import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def moving_square():
    """A 3x8x16x16 video of a white square moving one pixel right per frame on black."""
    video = -torch.ones(3, 8, 16, 16)
    for t in range(8):
        video[:, t, 4:8, 2 + t:6 + t] = 1.0
    return video
