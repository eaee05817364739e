"""The offline gallery, opened in headless Chromium: its images render from the relative links.

The page is copied to a folder of its own (with files/) and loaded over file://, so nothing but
the files beside it can be reached. The screenshot is kept in the test's tmp_path (its path is
printed) and checked for the very colours of the downloaded images.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from fal_endpoints import flux_dev
from PIL import Image

from fal_typed import Client, batch
from fal_typed.testing import Fault, LocalFal

from .conftest import rows

CHROMIUM = "/usr/bin/chromium"


def _chromium() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None:
        pytest.fail("chromium is not installed: scripts/system-deps.sh installs Debian's chromium")
    return found


def _pixels(image: Image.Image) -> Counter[tuple[int, int, int]]:
    data = image.convert("RGB").tobytes()
    return Counter((data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 3))


def _dominant_colours(path: Path, count: int = 3) -> list[tuple[int, int, int]]:
    with Image.open(path) as image:
        return [colour for colour, _ in _pixels(image.resize((32, 32))).most_common(count)]


def _near(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_the_gallery_renders_every_image_offline_in_chromium(
    local_fal: LocalFal, client: Client, tmp_path: Path
) -> None:
    # One row fails (fal refuses its submit): errors are part of the page too.
    error = {"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"}
    local_fal.inject(Fault.response(422, {"detail": [error]}), on="submit", times=1)
    data = [{"prompt": "fails", "seed": 13}, *rows(4, "gallery", output_format="png")]
    summary = batch.run(
        flux_dev,
        data,
        journal=tmp_path / "j.db",
        client=client,
        out=tmp_path / "out",
        concurrency=1,
    ).wait()
    assert summary.counts == {"completed": 4, "failed": 1}

    site = tmp_path / "site"
    shutil.copytree(tmp_path / "out", site)
    page = (site / "index.html").read_text()
    assert page.count("<img ") == 4 and "content_policy_violation" in page
    assert 'src="http' not in page  # every image links its downloaded file

    screenshot = tmp_path / "gallery.png"
    profile = tmp_path / "chromium-profile"
    done = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={screenshot}",
            "--window-size=1400,1200",
            "--virtual-time-budget=5000",
            (site / "index.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    print(f"screenshot: {screenshot}")
    assert screenshot.is_file(), done.stderr[-2000:]
    with Image.open(screenshot) as shot:
        shot_colours = _pixels(shot.resize((350, 300)))
    images = sorted((site / "files").glob("*.png"))
    assert len(images) == 4
    for image in images:
        colour = _dominant_colours(image)[0]
        covered = sum(n for c, n in shot_colours.items() if _near(c, colour))
        assert covered > 200, f"{image.name}'s colour {colour} does not show in the screenshot"
    # The failed row's error box is highlighted in red.
    red = sum(n for c, n in shot_colours.items() if _near(c, (254, 242, 242), 6))
    assert red > 100
