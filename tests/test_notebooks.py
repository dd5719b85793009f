"""Every lesson runs under papermill (the README's `make lessons` path); nbval covers the defaults.

nbval (`pytest --nbval-lax`, configured in pyproject.toml) executes each committed notebook and
compares its `# NBVAL_CHECK_OUTPUT` cells. Here papermill runs the lessons the way `make lessons`
and instructors do: through the package CLI, into an output folder, with HTML, and with parameters.
"""
import subprocess
import sys

import nbformat
import pytest

from vgan_lesson.notebooks import execute, lesson_paths


# nbval runs every lesson at its defaults (the full lesson, checked outputs compared). The papermill
# runs below only need to show that the path works and that parameters reach the lessons, so they
# shrink the training budgets (papermill injects a parameter into every lesson; unused ones are inert).
QUICK = {"STEPS": 4, "NUM_EVAL": 64, "NUM_DISENTANGLE": 16}


def _quick_args():
    return [arg for name, value in QUICK.items() for arg in ("-p", f"{name}={value}")]


def _run(args, cwd, timeout=900):
    return subprocess.run([sys.executable, "-m", "vgan_lesson", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_make_lessons_path_writes_executed_notebooks_and_html(tmp_path):
    out = tmp_path / "build"
    # every lesson in one process: a guard against a hang, not a timing test (about 10 min on an idle
    # 2-core machine for the nine lessons; a busy one took over 15)
    res = _run(["lessons", "--out", str(out), *_quick_args()], cwd=tmp_path, timeout=3000)
    assert res.returncode == 0, res.stdout + res.stderr
    for path in lesson_paths():
        executed = out / path.name
        assert executed.exists() and executed.with_suffix(".html").exists()
        nb = nbformat.read(str(executed), as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors
        verdicts = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        assert "[wrong]" not in verdicts and "[not yet]" not in verdicts   # the reference solutions pass


def test_lesson_00_takes_papermill_parameters(tmp_path):
    res = _run(["lessons", "--only", "00", "--out", str(tmp_path), "--no-html", "-p", "SIZE=32", "-p", "FRAMES=8",
                "-p", "DANCER_FRAMES=64"], cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    nb = nbformat.read(str(next(tmp_path.glob("00_*.ipynb"))), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "(3, 8, 32, 32)" in text and "64 frames -> 7 clips" in text


def test_wrong_parameter_type_gets_a_clear_error(tmp_path):
    res = _run(["lessons", "--only", "00", "--out", str(tmp_path), "--no-html", "-p", "SIZE=\"big\""], cwd=tmp_path)
    assert res.returncode != 0
    assert "size must be an int, got str 'big'" in res.stdout + res.stderr


@pytest.mark.parametrize("path", lesson_paths(), ids=lambda p: p.name)
def test_student_version_runs_and_says_not_yet(path, tmp_path):
    """Student copies blank the solutions; the whole lesson still runs and each check says [not yet]."""
    res = _run(["notebooks", "--student", str(tmp_path), path.name[:2]], cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    student_path = tmp_path / path.name
    student = nbformat.read(str(student_path), as_version=4)
    assert "### BEGIN SOLUTION" not in "".join(c.source for c in student.cells)
    exercises = sum("raise NotImplementedError" in c.source for c in student.cells if c.cell_type == "code")
    assert exercises >= 1
    executed = execute(student_path, tmp_path / "run" / path.name, parameters=QUICK, html=False)
    text = "".join(o.get("text", "") for c in nbformat.read(str(executed), as_version=4).cells
                   if c.cell_type == "code" for o in c.outputs)
    assert text.count("[not yet]") == exercises and "[right]" not in text


def test_nbval_catches_a_changed_checked_output(tmp_path):
    """The committed checked outputs are really compared: tamper with one and nbval fails."""
    source = lesson_paths()[0]
    nb = nbformat.read(str(source), as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.outputs)
    cell.outputs[0]["text"] = cell.outputs[0]["text"] + "a line the lesson never prints\n"
    nbformat.write(nb, str(tmp_path / source.name))
    res = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
                          "-p", "no:cacheprovider", source.name], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 1 and "mismatch 'stdout'" in res.stdout, res.stdout[-2000:]
