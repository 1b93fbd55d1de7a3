"""scripts/run_transformers_suites.py: the scratch tree it builds, its refusal of a folder without the suites, and
the counts it reads from pytest's summary (the suites themselves are `transformers`' and run outside this suite)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    path = ROOT / "scripts" / "run_transformers_suites.py"
    spec = importlib.util.spec_from_file_location("run_transformers_suites", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_from_pytest_summaries():
    counts = load_script().counts
    assert counts("12 failed, 262 passed, 214 skipped, 15 warnings, 2234 subtests passed in 395.96s") == {
        "failed": 12, "passed": 262, "skipped": 214}  # fmt: skip
    assert counts("268 passed, 212 skipped, 17 warnings in 233.23s") == {"passed": 268, "skipped": 212}
    assert counts("1 error in 3.1s") == {"error": 1}


def test_scratch_tree_links_the_suites_and_copies_the_testers(tmp_path):
    script = load_script()
    suites = tmp_path / "transformers"
    (suites / "tests" / "generation").mkdir(parents=True)
    (suites / "tests" / "models" / "llama").mkdir(parents=True)
    (suites / "tests" / "test_modeling_common.py").write_text("")
    (suites / "tests" / "generation" / "test_utils.py").write_text("")
    (suites / "utils").mkdir()
    scratch = tmp_path / "scratch"
    script.build_tree(suites, scratch, ["captioner"])
    assert (scratch / "tests" / "test_modeling_common.py").is_symlink()
    assert (scratch / "tests" / "generation").is_symlink() and (scratch / "utils").is_symlink()
    assert not (scratch / "tests" / "models" / "llama").exists()  # transformers' own model tests are not run
    tester = scratch / "tests" / "models" / "captioner" / "test_modeling_captioner.py"
    assert tester.read_text() == (ROOT / "scripts" / "transformers_suites" / "test_modeling_captioner.py").read_text()
    shared = scratch / "tests" / "models" / "hf_argen_testers.py"
    assert shared.read_text() == (ROOT / "scripts" / "transformers_suites" / "hf_argen_testers.py").read_text()
    assert (scratch / "conftest.py").is_file() and (scratch / "pytest.ini").is_file()


def test_a_folder_without_the_suites_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="--transformers_root .* has no tests/test_modeling_common.py"):
        load_script().main(["--transformers_root", str(tmp_path), "--models", "captioner"])
