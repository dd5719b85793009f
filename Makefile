# The two commands of the README:
#   make lessons   execute every lesson notebook in order (papermill) -> build/*.ipynb and build/*.html
#   make test      the whole test suite (unit tests + every notebook under nbval)
# Both create .venv and install the package into it on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lessons test install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[test]"
	touch $(STAMP)

lessons: $(STAMP)
	$(BIN)/python -m vgan_lesson lessons --out build

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf build .venv
