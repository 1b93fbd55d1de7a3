"""Saving without half-written files: every writer goes to a temporary name in the destination's folder,
then renames (`os.replace` is atomic on one file system), so a kill leaves either the old file or the new one
under the final name, never a fragment. Temporary names start with `.tmp-`."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}-{path.name}")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename: a kill never leaves
    a half-written file under the final name."""
    path = Path(path)
    temp = _temporary_name(path)
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def atomic_save_image(image, path: str | os.PathLike, **kwargs) -> None:
    """`image.save(path)` through a temporary file and a rename (format from `path`'s suffix)."""
    path = Path(path)
    temp = _temporary_name(path)
    try:
        image.save(temp, format=kwargs.pop("format", None) or _image_format(path), **kwargs)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _image_format(path: Path) -> str:
    from PIL import Image

    Image.init()
    suffix = path.suffix.lower()
    if suffix not in Image.EXTENSION:
        raise ValueError(f"Cannot tell the image format of {str(path)!r}: use a suffix such as .png or .jpg.")
    return Image.EXTENSION[suffix]


def atomic_save_pretrained(obj, save_directory: str | os.PathLike, **kwargs) -> None:
    """`obj.save_pretrained(save_directory)` (a model, processor, tokenizer, pipeline) into a temporary folder
    next to `save_directory`, whose files are then moved in one by one with `os.replace`: each file under
    its final name is complete. Files already in `save_directory` that `obj` does not write are kept. A
    `save_directory` that does not exist yet appears in one rename, complete."""
    directory = Path(save_directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    temp = _temporary_name(directory)
    try:
        obj.save_pretrained(str(temp), **kwargs)
        _give_safetensors_the_usual_mode(temp)
        if not directory.exists():
            os.replace(temp, directory)
            return
        for source in sorted(temp.rglob("*")):
            if source.is_file():
                target = directory / source.relative_to(temp)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _give_safetensors_the_usual_mode(folder: Path) -> None:
    """safetensors >= 0.8 writes through a temporary file created with mode 0600, whatever the umask (so another
    user, e.g. a container's, cannot read the weights); give its files the mode any new file gets here, read off a
    probe file (reading the umask means setting it, which would race with other threads)."""
    if os.name != "posix":
        return
    probe = _temporary_name(folder / "mode")
    probe.touch()
    try:
        mode = probe.stat().st_mode & 0o777
    finally:
        probe.unlink()
    for path in folder.rglob("*.safetensors"):
        if path.is_file() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)


__all__ = ["atomic_save_image", "atomic_save_pretrained", "atomic_write_text"]
