#!/usr/bin/env python
"""Run `transformers`' own common test suites (ModelTesterMixin, GenerationTesterMixin, ConfigTester) against
hf_argen's models, and print the pass/fail/skip counts.

The model testers are hf_argen's own (`scripts/transformers_suites/test_modeling_<model>.py`, written as
`transformers`' per-model test files are); the suites are `transformers`' and are not part of this project: point
`--transformers_root` at a folder holding `transformers`' `tests/` (`test_modeling_common.py`,
`test_configuration_common.py`, `generation/`, `exporters/`, ...) for the installed `transformers` version, and,
optionally, its `utils/`, e.g. a checkout of the `transformers` repository at the installed version's tag. The
script builds a scratch test tree (links to those files, the testers under `tests/models/<model>/` and what they share
at `tests/models/hf_argen_testers.py`) and runs pytest there, one suite file at a time, offline.

    python scripts/run_transformers_suites.py --transformers_root ~/src/transformers --models captioner
    python scripts/run_transformers_suites.py --transformers_root ~/src/transformers --models captioner \\
        --hf_argen_root path/to/other/checkout   # the same suites against another hf_argen tree ("before")
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from hf_argen.atomic import atomic_write_text  # noqa: E402

TESTERS = ROOT / "scripts" / "transformers_suites"
MODELS = ("captioner", "ar_transformer", "ar_rnn")
CONFTEST = """# Offline; transformers' `utils/` (test_module) importable, as in transformers' own conftest.
import os
import sys
from os.path import abspath, dirname, join

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(1, abspath(join(dirname(__file__), "utils")))
"""
PYTEST_INI = """[pytest]
markers =
    generate
    is_training_test
    is_tensor_parallel_test
    is_fsdp_test
    flash_attn_test
    flash_attn_3_test
    flash_attn_4_test
    all_flash_attn_test
    bitsandbytes
    torch_compile_test
    torch_export_test
"""


def build_tree(transformers_root: Path, scratch: Path, models: list[str]) -> None:
    tests = transformers_root / "tests"
    if not (tests / "test_modeling_common.py").is_file() or not (tests / "generation" / "test_utils.py").is_file():
        raise SystemExit(
            f"error: --transformers_root {transformers_root} has no tests/test_modeling_common.py and "
            "tests/generation/test_utils.py (transformers' test suites)"
        )
    (scratch / "tests" / "models").mkdir(parents=True)
    for entry in tests.iterdir():
        if entry.name not in ("models", "__pycache__"):
            (scratch / "tests" / entry.name).symlink_to(entry.resolve())
    (scratch / "tests" / "models" / "__init__.py").write_text("")
    shutil.copy(TESTERS / "hf_argen_testers.py", scratch / "tests" / "models")
    for model in models:
        folder = scratch / "tests" / "models" / model
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        shutil.copy(TESTERS / f"test_modeling_{model}.py", folder)
    if (transformers_root / "utils").is_dir():
        (scratch / "utils").symlink_to((transformers_root / "utils").resolve())
    (scratch / "conftest.py").write_text(CONFTEST)
    (scratch / "pytest.ini").write_text(PYTEST_INI)


def counts(summary: str) -> dict[str, int]:
    return {key: int(n) for n, key in re.findall(r"(\d+) (passed|failed|skipped|errors?)\b", summary)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--transformers_root",
        type=Path,
        required=True,
        help="folder holding transformers' tests/ (and optionally utils/) for the installed version",
    )
    parser.add_argument(
        "--models", nargs="+", choices=MODELS, default=list(MODELS), help="model testers to run (default: all)"
    )
    parser.add_argument(
        "--hf_argen_root", type=Path, default=ROOT, help="the hf_argen tree to test (default: this checkout)"
    )
    parser.add_argument(
        "--log_dir", type=Path, default=None, help="write each suite's full pytest log here (default: not kept)"
    )
    parser.add_argument("--timeout", type=int, default=300, help="per-test timeout in seconds (pytest-timeout)")
    parser.add_argument("--output_json", type=Path, default=None, help="also write the counts as JSON")
    args = parser.parse_args(argv)

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        build_tree(args.transformers_root.resolve(), scratch, args.models)
        env = {**os.environ, "PYTHONPATH": str(args.hf_argen_root.resolve()), "HF_HUB_OFFLINE": "1"}
        for model in args.models:
            command = [
                sys.executable,
                "-m",
                "pytest",
                f"tests/models/{model}/test_modeling_{model}.py",
                "-p",
                "no:cacheprovider",
                "-q",
                "-rfEs",
            ]
            try:
                import pytest_timeout  # noqa: F401

                command += ["--timeout", str(args.timeout)]
            except ImportError:
                pass
            run = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True)
            log = run.stdout + run.stderr
            if args.log_dir:
                args.log_dir.mkdir(parents=True, exist_ok=True)
                atomic_write_text(args.log_dir / f"{model}.log", log)
            summary = log.strip().splitlines()[-1] if log.strip() else ""
            results[model] = {"failed": 0, "passed": 0, "skipped": 0, **counts(summary), "summary": summary}
    print(f"{'model tester':<16} {'passed':>7} {'failed':>7} {'skipped':>8}")
    for model, result in results.items():
        print(f"{model:<16} {result['passed']:>7} {result['failed']:>7} {result['skipped']:>8}")
    if args.output_json:
        atomic_write_text(args.output_json, json.dumps(results, indent=2) + "\n")
    return 1 if any(r["failed"] or r.get("error") or r.get("errors") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
