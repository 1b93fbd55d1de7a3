"""`subprocess.run` for launchers (`accelerate launch`): on a timeout the launcher is asked to stop its ranks
(SIGTERM: torchrun's agent kills the process group of each rank), then its own group is killed, so no rank
outlives the test holding its pipes, its port or the CPU."""

from __future__ import annotations

import os
import signal
import subprocess


def run_process_group(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """Like `subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)`."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:  # our timeout, or pytest-timeout's: never leave the ranks (and `wait()`) hanging
            process.terminate()
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
