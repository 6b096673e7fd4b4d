"""iter_inputs: files, folders (recursive, any-case extensions), globs and videos, in a fixed order."""

from __future__ import annotations

from pathlib import Path

from wholebody.data.inputs import iter_inputs, kind_of


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_kind_of_any_letter_case():
    for name in ("a.jpg", "a.JPEG", "a.Png", "a.bmp", "a.TIF", "a.tiff", "a.WebP"):
        assert kind_of(name) == "image", name
    for name in ("a.mp4", "a.AVI", "a.Mov", "a.mkv", "a.WEBM"):
        assert kind_of(name) == "video", name
    assert kind_of("a.txt") is None and kind_of("README") is None


def test_folder_is_searched_recursively_and_sorted(tmp_path):
    _touch(tmp_path, "b.JPG", "a.png", "sub/c.jpeg", "sub/deeper/d.TIFF", "clip.MP4", "notes.txt",
           ".hidden.jpg", ".cache/e.jpg", "sub/f.webp")
    sources = iter_inputs([tmp_path])
    assert [s.name for s in sources] == ["a.png", "b.JPG", "clip.MP4", "sub/c.jpeg", "sub/deeper/d.TIFF", "sub/f.webp"]
    assert [s.kind for s in sources] == ["image", "image", "video", "image", "image", "image"]
    assert all(s.path.is_file() and s.error is None for s in sources)
    assert iter_inputs([tmp_path]) == sources  # deterministic


def test_explicit_file_is_kept_whatever_its_extension(tmp_path):
    _touch(tmp_path, "photo.heic_or_unknown", "x/a.jpg")
    sources = iter_inputs([tmp_path / "photo.heic_or_unknown", tmp_path / "x" / "a.jpg"])
    assert [(s.name, s.kind) for s in sources] == [("photo.heic_or_unknown", "image"), ("a.jpg", "image")]


def test_glob_names_are_relative_to_its_literal_folder(tmp_path):
    _touch(tmp_path, "imgs/one/a.jpg", "imgs/two/b.PNG", "imgs/two/c.txt", "imgs/top.jpg")
    sources = iter_inputs([str(tmp_path / "imgs" / "**" / "*.*")])
    assert [s.name for s in sources] == ["one/a.jpg", "top.jpg", "two/b.PNG"]
    only_two = iter_inputs([str(tmp_path / "imgs" / "t*" / "*")])
    assert [s.name for s in only_two] == ["two/b.PNG"]


def test_missing_arguments_are_reported_not_dropped(tmp_path):
    (tmp_path / "empty").mkdir()
    _touch(tmp_path, "only.txt")
    sources = iter_inputs([tmp_path / "nope.jpg", tmp_path / "empty", str(tmp_path / "*.png"), str(tmp_path / "*.txt")])
    assert [s.kind for s in sources] == ["missing"] * 4
    reasons = [s.error for s in sources]
    assert "no such file" in reasons[0]
    assert "no image or video files" in reasons[1]
    assert reasons[2] == "pattern matched nothing"
    assert reasons[3] == "pattern matched no image or video files"


def test_duplicates_are_listed_once_and_name_clashes_prefixed(tmp_path):
    _touch(tmp_path, "a/x.jpg", "b/x.jpg")
    sources = iter_inputs([tmp_path / "a", tmp_path / "b", tmp_path / "a" / "x.jpg"])
    assert [s.name for s in sources] == ["x.jpg", "input2/x.jpg"]
    assert sources[1].path == tmp_path / "b" / "x.jpg"


def test_output_folder_inside_the_input_is_not_searched(tmp_path):
    _touch(tmp_path, "a.jpg", "out/overlays/a.png")
    assert [s.name for s in iter_inputs([tmp_path], exclude=[tmp_path / "out"])] == ["a.jpg"]
    assert [s.name for s in iter_inputs([tmp_path])] == ["a.jpg", "out/overlays/a.png"]
