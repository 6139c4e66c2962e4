# The course's commands. `make run` and `make test` are the two that matter.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lab release bench venv clean grade feedback rubric student-repo

# Create .venv and install the project (with its dev tools) when missing or when pyproject changed.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the course into $(VENV) (first time: a few minutes)..."
	@$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]" 2>&1 | { grep -v "is ignored" || true; }; test $${PIPESTATUS[0]} -eq 0
	@# torchattacks (an independent FGSM for the tests and benchmarks) pins requests~=2.25, which it never
	@# imports and which nbgrader's newer requests excludes: install it alone. Optional: without it those
	@# checks use the hand-written reference only.
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps "torchattacks==3.5.1" 2>&1 \
		| { grep -v "is ignored" || true; }; test $${PIPESTATUS[0]} -eq 0 || echo "note: torchattacks not installed"
	@$(PY) -c "import course_utils, torch, torchvision, nbgrader" && touch $(STAMP)

venv: $(STAMP)

## run: execute the lecture notebooks in order, build the course book (build/site/index.html) and check it
run: $(STAMP)
	$(PY) tools/build_site.py
	$(PY) tools/check_book.py build/site

## test: the whole test suite (unit tests, notebooks, nbgrader round trip) in FAST + OFFLINE mode
test: $(STAMP)
	COURSE_FAST=1 COURSE_OFFLINE=1 $(PY) -m pytest

## lab: JupyterLab on the course
lab: $(STAMP)
	$(VENV)/bin/jupyter lab

## release: regenerate the student release assignments/ from solutions/
release: $(STAMP)
	$(PY) tools/release.py $(if $(FORCE),--force,)

## student-repo: write the students' copy (notebooks, course_utils, assignments; no solutions) with its own git history
student-repo: $(STAMP)
	@test -n "$(DEST)" || { echo "usage: make student-repo DEST=<new folder outside this repository>"; exit 2; }
	$(PY) tools/student_repo.py "$(DEST)"

## grade: autograde every submitted/<student>/$(ASSIGNMENT)/ in JOBS worker processes (default: the CPUs), into gradebook.db
grade: $(STAMP)
	@test -n "$(ASSIGNMENT)" || { echo "usage: make grade ASSIGNMENT=<ID> [JOBS=N] [FORCE=1] [SHARD=k/n]"; exit 2; }
	$(PY) tools/grade.py $(ASSIGNMENT) $(if $(JOBS),--jobs $(JOBS),) $(if $(FORCE),--force,) $(if $(SHARD),--shard $(SHARD),)

## feedback: feedback/<student>/$(ASSIGNMENT)/*.html for every graded submission, hidden tests left out
feedback: $(STAMP)
	@test -n "$(ASSIGNMENT)" || { echo "usage: make feedback ASSIGNMENT=<ID>"; exit 2; }
	$(PY) tools/feedback.py $(ASSIGNMENT)

## rubric: the written questions of $(ASSIGNMENT) with model answers and rubrics, for graders (also build/rubrics/<ID>.md)
rubric: $(STAMP)
	@test -n "$(ASSIGNMENT)" || { echo "usage: make rubric ASSIGNMENT=<ID>"; exit 2; }
	$(PY) tools/rubric.py $(ASSIGNMENT)

## bench: speed benchmarks
bench: $(STAMP)
	$(PY) -m pytest benchmarks -q -s -o addopts=""

clean:
	rm -rf build
