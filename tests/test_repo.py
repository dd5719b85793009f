"""The repository's promises: install files in step, CI calls the README's command, notebook policy."""
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from vgan_lesson.notebooks import BEGIN, END, lesson_paths, policy_problems, strip_for_commit, student_version

ROOT = Path(__file__).resolve().parent.parent


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_matches_pyproject():
    project = _pyproject()["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {p for p in pip if not p.startswith("-e")}
    assert listed == wanted, f"only in environment.yml: {listed - wanted}; only in pyproject: {wanted - listed}"
    assert "-e ." in pip


def test_torch_is_pinned_exactly():
    deps = _pyproject()["project"]["dependencies"]
    torch_deps = [d for d in deps if re.match(r"torch\b", d)]
    assert torch_deps == ["torch==2.13.0"], "a loose torch range pulls GBs of CUDA wheels on a CPU machine"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make lessons" in readme
    assert re.search(r"^make test$", ci, re.M)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:", makefile, re.M) and re.search(r"^lessons:", makefile, re.M)


def test_lessons_exist_in_order():
    names = [p.name for p in lesson_paths()]
    assert names and names[0].startswith("00_")
    numbers = [int(n[:2]) for n in names]
    assert numbers == sorted(set(numbers))


@pytest.mark.parametrize("path", lesson_paths(), ids=lambda p: p.name)
def test_committed_notebook_follows_output_policy(path):
    assert policy_problems(path) == []


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_policy_catches_violations(tmp_path):
    params = nbformat.v4.new_code_cell("SIZE = 32", metadata={"tags": ["parameters"]})
    noisy = nbformat.v4.new_code_cell("print(1)", execution_count=3,
                                      outputs=[nbformat.v4.new_output("stream", text="1\n")])
    image = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nplot()", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": "AAAA"})])
    klass = nbformat.v4.new_code_cell("class Model:\n    pass")
    func = nbformat.v4.new_code_cell("def helper():\n    return 1")
    path = tmp_path / "00_x.ipynb"
    nbformat.write(_nb(params, noisy, image, klass, func), str(path))
    problems = " | ".join(policy_problems(path))
    for needle in ("execution count", "not a '# NBVAL_CHECK_OUTPUT' cell", "non-text output", "defines a class",
                   "defines a function"):
        assert needle in problems
    nbformat.write(_nb(noisy), str(path))
    assert "exactly one cell tagged 'parameters'" in " ".join(policy_problems(path))


def test_strip_keeps_only_checked_text_and_student_version_blanks_solutions():
    params = nbformat.v4.new_code_cell("SIZE = 32", metadata={"tags": ["parameters"]})
    checked = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(2)", execution_count=5, outputs=[
        nbformat.v4.new_output("stream", text="2\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "AAAA"})])
    plain = nbformat.v4.new_code_cell("x = 1", execution_count=6,
                                      outputs=[nbformat.v4.new_output("stream", text="hi\n")])
    solution = nbformat.v4.new_code_cell(f"def my_diff(x):\n    {BEGIN}\n    return x[1:] - x[:-1]\n    {END}\n")
    stripped = strip_for_commit(_nb(params, checked, plain, solution))
    assert [o["output_type"] for o in stripped.cells[1].outputs] == ["stream"]
    assert stripped.cells[2].outputs == [] and stripped.cells[2].execution_count is None
    assert stripped.cells[1].execution_count == 2       # nbval needs a count on cells it compares
    student = student_version(_nb(params, checked, plain, solution))
    src = student.cells[3].source
    assert "return x[1:]" not in src and "raise NotImplementedError" in src and src.startswith("def my_diff(x):")
    compile(src, "cell", "exec")
