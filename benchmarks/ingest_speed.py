"""Ingest speed: pages per second for text PDFs and for OCR, and the bundled corpus through the new path.

1. Text PDFs: each bundled issue (corpus/*.txt) printed to a PDF with Debian's CJK font (tests/ingest_fixtures.py),
   then read by qa.ingest (pypdfium2 text layer) and parsed + chunked (qa.corpus.sources / chunker).
2. OCR: the first --ocr-pages pages of one of those PDFs rendered to images (an image-only PDF, like a scanner's
   output), then read by qa.ingest (RapidOCR / PP-OCRv4 on ONNX Runtime); also: how many of the text-layer
   characters OCR gets back (difflib ratio).
3. The bundled corpus as gazette PDFs through the whole path: `IndexBuilder.build` over a corpus dir of the five
   PDFs with the configured encoder (reading, parsing, chunking, embedding, writing the index), against the same
   build over the five .txt files; documents and chunks of both must agree.
Memory: peak RSS of the process after each stage (ru_maxrss). Machine load (1-minute) is printed with each figure.

    python benchmarks/ingest_speed.py                  # all (~5-10 min on 2 idle cores)
    python benchmarks/ingest_speed.py --skip-build     # reading/parsing/OCR only
"""
from __future__ import annotations

import argparse
import difflib
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
RESULTS = ROOT / "benchmarks" / "results" / "ingest_speed.md"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load1() -> float:
    return os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ocr-pages", type=int, default=4)
    ap.add_argument("--skip-build", action="store_true", help="skip the index builds (embedding)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    import ingest_fixtures as fx

    from qa.corpus.chunker import chunk_issue
    from qa.corpus.files import corpus_files
    from qa.corpus.sources import load_source
    from qa.ingest import read_file
    from qa.ingest.ocr import OcrEngine

    rows: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    try:
        txts = corpus_files(ROOT / "corpus")
        pdf_corpus = work / "pdf-corpus"
        pdf_corpus.mkdir()
        t0 = time.perf_counter()
        pdfs = [fx.make_text_pdf(pdf_corpus / f"{p.stem}.pdf", fx.printed_lines(p.read_text(encoding="utf-8")))
                for p in txts]
        print(f"wrote {len(pdfs)} PDFs in {time.perf_counter() - t0:.1f} s")

        # 1. text PDFs
        load = load1()
        t0 = time.perf_counter()
        texts = [read_file(p) for p in pdfs]
        read_s = time.perf_counter() - t0
        pages = sum(t.n_pages for t in texts)
        t0 = time.perf_counter()
        issues = [load_source(p, pdf_corpus) for p in pdfs]
        chunks = [c for i in issues for c in chunk_issue(i)]
        parse_s = time.perf_counter() - t0
        docs = sum(len(i.documents) for i in issues)
        rows.append(f"| text PDF: read (pypdfium2 text layer) | {pages} pages | {read_s:.2f} s | "
                    f"**{pages / read_s:.0f} pages/s** | {peak_rss_mb():.0f} | {load:.1f} |")
        rows.append(f"| text PDF: read + parse + chunk | {pages} pages, {docs} documents, {len(chunks)} chunks | "
                    f"{parse_s:.2f} s | {pages / parse_s:.0f} pages/s | {peak_rss_mb():.0f} | {load:.1f} |")
        print(rows[-2], rows[-1], sep="\n")

        # 2. OCR
        import pypdfium2 as pdfium

        src = pdfium.PdfDocument(str(pdfs[0]))
        n = min(args.ocr_pages, len(src))
        images = [src[i].render(scale=2.0).to_pil().convert("RGB") for i in range(n)]
        reference = [fx_lines for fx_lines in (texts[0].lines,)][0]
        src.close()
        scan = work / "scan.pdf"
        images[0].save(scan, "PDF", resolution=144, save_all=True, append_images=images[1:])
        ocr = OcrEngine()
        load = load1()
        t0 = time.perf_counter()
        ocr.lines(images[0].crop((0, 0, 64, 64)))  # model load, not counted per page
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        scanned = read_file(scan, ocr=ocr)
        ocr_s = time.perf_counter() - t0
        ref = "".join("".join(ln for ln, p in zip(texts[0].lines, texts[0].pages) if p <= n).split())
        got = "".join("".join(scanned.lines).split())
        ratio = difflib.SequenceMatcher(None, ref, got, autojunk=False).ratio()
        rows.append(f"| scanned PDF: OCR (RapidOCR PP-OCRv4, 144 dpi) | {n} pages | {ocr_s:.1f} s | "
                    f"**{n / ocr_s:.2f} pages/s** ({ocr_s / n:.1f} s/page; model load {load_s:.1f} s) | "
                    f"{peak_rss_mb():.0f} | {load:.1f} |")
        rows.append(f"| OCR text vs text layer (same pages) | {len(ref)} chars | | similarity {ratio:.3f} | | |")
        print(rows[-2], rows[-1], sep="\n")
        del reference

        # 3. the bundled corpus through the whole path
        if not args.skip_build:
            from qa.config import Settings
            from qa.corpus.normalize import NORMALIZER_VERSION
            from qa.index.builder import IndexBuilder
            from qa.index.faiss_index import IndexParams
            from qa.service import make_encoder

            settings = Settings()
            encoder = make_encoder(settings)
            encoder.encode_passages(["预热"])
            txt_corpus = work / "txt-corpus"
            txt_corpus.mkdir()
            for p in txts:
                shutil.copyfile(p, txt_corpus / p.name)
            results = {}
            for label, corpus in (("5 issues as .txt", txt_corpus), ("5 issues as text PDF", pdf_corpus)):
                load = load1()
                builder = IndexBuilder(work / f"index-{corpus.name}", encoder, normalizer_version=NORMALIZER_VERSION,
                                       params=IndexParams.from_settings(settings), cache_dir=work / "cache")
                t0 = time.perf_counter()
                report = builder.build(corpus)
                secs = time.perf_counter() - t0
                results[label] = report
                rows.append(f"| corpus build: {label} (read, parse, chunk, embed, write) | {report.n_chunks} chunks | "
                            f"{secs:.0f} s | {report.n_chunks / secs:.1f} chunks/s | {peak_rss_mb():.0f} | {load:.1f} |")
                print(rows[-1])
            a, b = results.values()
            rows.append(f"| chunks: .txt vs PDF (PDF lines wrap, tables lose their tabs) | {a.n_chunks} vs {b.n_chunks} | | | | |")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    head = ("| stage | size | time | rate | peak RSS MB | load (1 min) |\n"
            "|---|---|---|---|---|---|")
    text = ("# Ingest speed (benchmarks/ingest_speed.py)\n\n"
            f"{os.cpu_count()} CPUs; machine shared with other work, see the load column.\n\n"
            + head + "\n" + "\n".join(rows) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
