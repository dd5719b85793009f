"""Feedback for the lessons' "your turn" exercises.

Each check prints one line — ``[right]`` or ``[wrong]`` with the reason, or ``[not yet]`` when the
student's function still raises ``NotImplementedError`` — and returns ``True``/``False`` so a
notebook (or an autograder) can also assert on it. Checks never raise for a wrong answer: a lesson
keeps running so the student sees every piece of feedback at once.
"""
from __future__ import annotations

from typing import Any, Callable

import torch


def _say(ok: bool, name: str, message: str) -> bool:
    print(f"[{'right' if ok else 'wrong'}] {name}: {message}")
    return ok


def attempt(name: str, fn: Callable[..., Any], *args, **kwargs) -> tuple[bool, Any]:
    """Call the student's ``fn``; report ``[not yet]`` for NotImplementedError, ``[wrong]`` for other errors."""
    try:
        return True, fn(*args, **kwargs)
    except NotImplementedError:
        print(f"[not yet] {name}: replace the `raise NotImplementedError` with your code, then run this cell again")
    except Exception as err:  # the student's code failed: say how, keep the lesson running
        print(f"[wrong] {name}: your code raised {type(err).__name__}: {err}")
    return False, None


def check_close(name: str, got, expected, atol: float = 1e-5, hint: str = "") -> bool:
    """Right when ``got`` is a tensor of ``expected``'s shape and within ``atol`` of it everywhere."""
    if not isinstance(got, torch.Tensor):
        return _say(False, name, f"expected a torch.Tensor, got {type(got).__name__}. {hint}".strip())
    expected = torch.as_tensor(expected)
    if tuple(got.shape) != tuple(expected.shape):
        return _say(False, name, f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}. {hint}".strip())
    err = float((got.detach().float() - expected.float()).abs().max()) if got.numel() else 0.0
    if not err <= atol:
        return _say(False, name, f"largest difference from the answer is {err:.3g} (allowed {atol:g}). {hint}".strip())
    return _say(True, name, f"matches to within {atol:g}")


def check_equal(name: str, got, expected, hint: str = "") -> bool:
    """Right when ``got == expected`` (plain Python values)."""
    if got == expected:
        return _say(True, name, f"{got!r} is correct")
    return _say(False, name, f"you gave {got!r}. {hint}".strip())


def check_true(name: str, condition: bool, right: str, wrong: str) -> bool:
    """A free-form check: ``right`` is printed when ``condition`` holds, ``wrong`` otherwise."""
    return _say(bool(condition), name, right if condition else wrong)
