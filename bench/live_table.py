"""What bench/live.py prints and stores beside its rows: streams held per design or peer, the pool against each
peer (ratios of streams held and of word p50), the pool's native protocol beside its Realtime door."""

from __future__ import annotations

from typing import Any

HELD_MS = 1000.0  # a level is held while word p95 stays under this


def held(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Per design or peer: the largest N with word p95 < 1 s (0: none)."""
    out: dict[str, int] = {}
    for r in rows:
        ok = r["word_p95_ms"] < HELD_MS
        out[r["design"]] = max(out.get(r["design"], 0), r["streams"] if ok else 0)
    return out


def peer_comparison(rows: list[dict[str, Any]], peers: list[str]) -> dict[str, Any]:
    """Per peer: streams held, ours / theirs, and word p50 theirs / ours at each N both ran (None: undefined)."""
    ours = {r["streams"]: r for r in rows if r["design"] == "pool" and r["protocol"] == "native"}
    counts = held([r for r in rows if r["protocol"] in ("native", "peer")])
    out = {}
    for name in peers:
        theirs = {r["streams"]: r for r in rows if r["design"] == name}
        p50 = {
            str(n): round(theirs[n]["word_p50_ms"] / ours[n]["word_p50_ms"], 2)
            for n in sorted(set(ours) & set(theirs))
            if ours[n]["word_p50_ms"] > 0
        }
        mine, their = counts.get("pool", 0), counts.get(name, 0)
        out[name] = {"held": their, "held_ratio": round(mine / their, 2) if their else None, "word_p50_ratio": p50}
    return out


def print_peers(rows: list[dict[str, Any]], peers: list[str], comparison: dict[str, Any]) -> None:
    by = {(r["design"], r["streams"]): r for r in rows if r["protocol"] in ("native", "peer")}
    cell = lambda r: f"{r['word_p50_ms']:5.0f} / {r['word_p95_ms']:6.0f} ms {r['wer_mean']:6.1%}" if r else "—"  # noqa: E731
    print("\nword p50 / p95, WER  | " + " | ".join(f"{d:>26s}" for d in ["pool", *peers]))
    for n in sorted({n for d, n in by if d in ("pool", *peers)}):
        cells = [cell(by.get((d, n))) for d in ["pool", *peers]]
        print(f"N={n:3d}                | " + " | ".join(f"{c:>26s}" for c in cells))
    for name, c in comparison.items():
        ratio = f"{c['held_ratio']:.2f}x" if c["held_ratio"] is not None else "— (they hold none)"
        p50 = ", ".join(f"N={n}: {r:.1f}x" for n, r in c["word_p50_ratio"].items()) or "—"
        print(f"pool vs {name}: streams held {ratio} (theirs {c['held']}); word p50 theirs/ours {p50}")


def side_by_side(rows: list[dict[str, Any]]) -> None:
    """The pool's native word and committed latency beside the Realtime deltas' (one figure), per level."""
    print("\nN   | native word p50/p95 | native committed p50/p95 | realtime p50/p95 | WER native/rt")
    by = {(r["streams"], r["protocol"]): r for r in rows if r["design"] == "pool"}
    for n in sorted({n for n, _ in by}):
        nat, rt = by.get((n, "native")), by.get((n, "realtime"))
        cell = lambda r, k: f"{r[k + '_p50_ms']:6.0f} / {r[k + '_p95_ms']:6.0f} ms" if r else "—"  # noqa: E731
        wers = f"{nat['wer_mean']:.3f} / {rt['wer_mean']:.3f}" if nat and rt else "—"
        print(f"{n:3d} | {cell(nat, 'word'):>19s} | {cell(nat, 'committed'):>24s} | {cell(rt, 'word'):>16s} | {wers}")
