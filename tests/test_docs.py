"""The docs keep up with the code: every ROOMREEL_* variable is documented, every relative link resolves."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGURATION = ROOT / "docs" / "configuration.md"
VARIABLE = re.compile(r"ROOMREEL_[A-Z0-9_]+")
# The target of a Markdown link `[text](target)`, also `(<target>)` and `(target "title")`.
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def variables_in_code() -> dict[str, list[str]]:
    """Each ROOMREEL_* name in the Python code of pipeline/, workers/ and layouts/, with where it is."""
    found: dict[str, list[str]] = {}
    for package in ("pipeline", "workers", "layouts"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for name in VARIABLE.findall(line):
                    name = name.rstrip("_")
                    if name != "ROOMREEL":  # a bare "ROOMREEL_" prefix is no variable
                        found.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{number}")
    return found


def test_the_code_reads_variables():
    found = variables_in_code()
    assert "ROOMREEL_DATA_DIR" in found and "ROOMREEL_DATABASE_URL" in found, sorted(found)


def test_every_variable_is_documented():
    documented = set(VARIABLE.findall(CONFIGURATION.read_text(encoding="utf-8")))
    missing = {name: places for name, places in variables_in_code().items() if name not in documented}
    assert not missing, f"not in docs/configuration.md: {missing}"


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def relative_links(text: str) -> list[str]:
    """The targets of `[text](target)` links that name a file: no URL scheme, not only an anchor."""
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) and not target.startswith("#")
    ]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files(path):
    broken = [
        target
        for target in relative_links(path.read_text(encoding="utf-8"))
        if not (path.parent / target.split("#", 1)[0]).exists()
    ]
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"


def test_relative_links_are_found_and_urls_skipped():
    text = (
        "see [a](configuration.md), [b](../README.md#docs), [c](https://example.com/x.md), "
        '[d](#here), [e](mailto:ops@example.com) and [f](<workers.md> "title")'
    )
    assert relative_links(text) == ["configuration.md", "../README.md#docs", "workers.md"]
