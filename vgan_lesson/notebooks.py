"""Running, checking and handing out the lesson notebooks.

Output policy (enforced by ``tests/test_repo.py`` through :func:`policy_problems`):

* Lessons are committed as sources: no outputs, no execution counts — except cells whose first line
  is ``# NBVAL_CHECK_OUTPUT``. Those hold small, deterministic text outputs (shapes, counts,
  metric-in-a-band verdicts) that nbval compares on every test run (``pytest --nbval-lax``), so a
  change in the package that alters what a lesson shows is caught. Refresh them with
  ``python -m vgan_lesson notebooks --record`` after a deliberate change.
* Executed copies, with all figures and animations, are written to ``build/`` by
  ``make lessons`` (papermill), together with an HTML rendering of each.
* Every lesson has exactly one cell tagged ``parameters`` (papermill) and never defines classes:
  notebooks call the package. Functions may be defined only in exercise solution blocks
  (between ``### BEGIN SOLUTION`` and ``### END SOLUTION``), which :func:`student_version` blanks out.
"""
from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
MAX_CHECKED_OUTPUT = 2000  # characters of text a checked cell may keep in the committed notebook
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"


def lesson_paths(directory: str | Path | None = None) -> list[Path]:
    """The lesson notebooks, in course order (``NN_name.ipynb``)."""
    directory = Path(directory) if directory is not None else NOTEBOOK_DIR
    return sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(CHECK_MARK)


def _output_text(output) -> str | None:
    """The text of a stream / text-only result output, or None if it holds anything else."""
    if output.get("output_type") == "stream":
        return output.get("text", "")
    if output.get("output_type") == "execute_result" and set(output.get("data", {})) == {"text/plain"}:
        return output["data"]["text/plain"]
    return None


def policy_problems(path: str | Path) -> list[str]:
    """Every way the committed notebook at ``path`` breaks the output policy (empty list = fine)."""
    nb = nbformat.read(str(path), as_version=4)
    problems = []
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(params) != 1:
        problems.append(f"expected exactly one cell tagged 'parameters', found {len(params)}")
    if "widgets" in nb.metadata:
        problems.append("notebook metadata holds ipywidgets state from a run (strip it: notebooks --strip)")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {i}"
        if cell.get("execution_count") is not None and not (is_checked(cell) and cell.outputs):
            problems.append(f"{where}: has an execution count (commit the source, not a run)")
        if re.search(r"^class\s", cell.source, re.M):
            problems.append(f"{where}: defines a class; notebooks call the package instead")
        if re.search(r"^\s*def\s", cell.source, re.M) and BEGIN not in cell.source:
            problems.append(f"{where}: defines a function outside a '{BEGIN}' exercise block")
        if re.search(rf"^{re.escape(BEGIN)}", cell.source, re.M):
            problems.append(f"{where}: a solution block must sit inside an exercise function, so that the "
                            "student version (which raises NotImplementedError there) still runs")
        if not cell.outputs:
            continue
        if not is_checked(cell):
            problems.append(f"{where}: has outputs but is not a '{CHECK_MARK}' cell")
            continue
        for out in cell.outputs:
            text = _output_text(out)
            if text is None:
                problems.append(f"{where}: checked cell keeps a non-text output ({out.get('output_type')})")
            elif len(text) > MAX_CHECKED_OUTPUT:
                problems.append(f"{where}: checked output is {len(text)} characters (limit {MAX_CHECKED_OUTPUT})")
    return problems


def strip_for_commit(nb):
    """Remove every output and execution count except the text outputs of checked cells."""
    nb = copy.deepcopy(nb)
    for number, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = None
        if is_checked(cell):
            kept = []
            for out in cell.outputs:
                if _output_text(out) is not None:
                    out = copy.deepcopy(out)
                    if out.get("output_type") == "execute_result":
                        out["execution_count"] = number + 1
                    kept.append(out)
            cell.outputs = kept
            # nbval skips comparing (and fails) a cell with outputs but no execution count
            cell.execution_count = number + 1 if kept else None
        else:
            cell.outputs = []
    for cell in nb.cells:                       # markdown cells carry papermill timings too
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)            # ipywidgets state of a run (lesson 04 stores GIFs in it)
    return nb


def student_version(nb):
    """Blank out exercise solutions: code between the solution markers becomes a NotImplementedError."""
    nb = strip_for_commit(nb)
    pattern = re.compile(rf"^(\s*){re.escape(BEGIN)}.*?^\s*{re.escape(END)}[^\n]*", re.M | re.S)
    for cell in nb.cells:
        if cell.cell_type == "code" and BEGIN in cell.source:
            cell.source = pattern.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}"
                                                f"raise NotImplementedError", cell.source)
            cell.outputs = []
    return nb


def execute(path: str | Path, out_path: str | Path, parameters: dict | None = None,
            kernel_name: str | None = None, html: bool = True) -> Path:
    """Run one notebook with papermill (in its own folder) and optionally write an HTML copy."""
    import papermill

    path, out_path = Path(path), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(path), str(out_path), parameters=parameters or {},
                               kernel_name=kernel_name, cwd=str(path.parent), progress_bar=False)
    if html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_filename(str(out_path))
        out_path.with_suffix(".html").write_text(body, encoding="utf-8")
    return out_path


def run_lessons(out: str | Path = "build", only: list[str] | None = None, parameters: dict | None = None,
                kernel_name: str | None = None, html: bool = True) -> list[Path]:
    """Execute every lesson in order into ``out`` (the README's main command)."""
    done = []
    for path in lesson_paths():
        if only and not any(path.name.startswith(o) or path.stem == o for o in only):
            continue
        print(f"[lessons] executing {path.name} ...", flush=True)
        done.append(execute(path, Path(out) / path.name, parameters, kernel_name, html))
        print(f"[lessons] wrote {done[-1]}" + (f" and {done[-1].with_suffix('.html')}" if html else ""), flush=True)
    if not done:
        raise SystemExit(f"no lesson notebook matched {only!r} in {NOTEBOOK_DIR}")
    return done


def record_checked_outputs(path: str | Path, kernel_name: str | None = None) -> Path:
    """Execute a lesson and store the outputs of its checked cells back into the source notebook."""
    import tempfile

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        executed = execute(path, Path(tmp) / path.name, kernel_name=kernel_name, html=False)
        nb = nbformat.read(str(executed), as_version=4)
    # papermill adds an "injected-parameters" cell only when parameters are given; none are here
    nbformat.write(strip_for_commit(nb), str(path))
    return path


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - thin CLI, exercised by tests via run()
    import argparse

    parser = argparse.ArgumentParser(prog="python -m vgan_lesson notebooks")
    parser.add_argument("--record", action="store_true", help="re-execute and store checked outputs")
    parser.add_argument("--strip", action="store_true", help="strip outputs not allowed by the policy")
    parser.add_argument("--student", metavar="DIR", help="write student versions (solutions blanked) to DIR")
    parser.add_argument("names", nargs="*", help="lesson numbers or names (default: all)")
    args = parser.parse_args(argv)
    paths = [p for p in lesson_paths() if not args.names or any(p.name.startswith(n) for n in args.names)]
    for p in paths:
        if args.record:
            record_checked_outputs(p)
        elif args.strip:
            nbformat.write(strip_for_commit(nbformat.read(str(p), as_version=4)), str(p))
        if args.student:
            Path(args.student).mkdir(parents=True, exist_ok=True)
            nbformat.write(student_version(nbformat.read(str(p), as_version=4)), str(Path(args.student) / p.name))
        problems = policy_problems(p)
        print(f"{p.name}: " + ("ok" if not problems else "; ".join(problems)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
