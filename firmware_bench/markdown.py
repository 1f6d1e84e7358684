"""Bench results as Markdown tables: one run, or two runs side by side as ratios."""

from __future__ import annotations


def bench_markdown(report: dict) -> str:
    """A table per model/backend/threads, then end to end, cold start, memory and host."""
    h = report["host"]
    lines = [
        f"Host: {h['cpu']} ({h['arch']}, {h['cores']} cores), {h['os']}, Python {h['python']}, "
        f"{h['date']}",
        "",
        "| model | backend | precision | threads | size KB | load ms | first ms | p50 µs | "
        "p90 µs | p99 µs | mean µs | beats/s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        lat = r["latency_ms"]
        lines.append(
            f"| {r['model']} | {r['backend']} | {r['precision']} | {r['threads']} | "
            f"{r['size_bytes'] / 1024:.1f} | {1e3 * r['load_s']:.1f} | "
            f"{r['first_inference_ms']:.2f} | {1e3 * lat['p50']:.1f} | {1e3 * lat['p90']:.1f} | "
            f"{1e3 * lat['p99']:.1f} | {1e3 * lat['mean']:.1f} | {r['throughput_bps']:.0f} |"
        )
    e = report["end_to_end"]
    lines += ["", _end_to_end_line("End to end", e)]
    two = report.get("end_to_end_two_leads")
    if two:
        lines.append(
            _end_to_end_line("With two-lead detection", two)
            + f" {two['seconds'] / e['seconds']:.2f}x the one-lead time, same run; peak RSS "
            f"{two['peak_rss_mb']:.1f} MB."
        )
    lines.append(
        f"Cold start (process start -> first classified beat): {report['cold_start_s']:.3f} s. "
        f"Peak RSS: {report['peak_rss_mb']:.1f} MB."
    )
    return "\n".join(lines) + "\n"


def _end_to_end_line(title: str, e: dict) -> str:
    runs = (
        f" (median of {len(e['runs_s'])} fresh processes: "
        + ", ".join(f"{t:.3f}" for t in e["runs_s"])
        + " s)."
        if e.get("runs_s")
        else "."
    )
    return (
        f"{title} (detect + classify, 1 thread, 5 s blocks): {e['record']}, "
        f"{e['ecg_seconds'] / 60:.0f} min of ECG in {e['seconds']:.3f} s, real-time factor "
        f"{e['rtf']:.0f}, {e['beats']} beats" + runs
    )


def _key(r: dict) -> tuple:
    return (r["model"], r["backend"], r["threads"])


def compare_markdown(a: dict, b: dict, name_a: str = "A", name_b: str = "B") -> str:
    """p50 latency and throughput of the results both runs share, as B / A ratios."""
    rows_b = {_key(r): r for r in b["results"]}
    lines = [
        f"A = {name_a} ({a['host']['cpu']}), B = {name_b} ({b['host']['cpu']})",
        "",
        "| model | backend | threads | p50 µs A | p50 µs B | B/A latency | B/A throughput |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for ra in a["results"]:
        rb = rows_b.get(_key(ra))
        if rb is None:
            continue
        pa, pb = ra["latency_ms"]["p50"], rb["latency_ms"]["p50"]
        lines.append(
            f"| {ra['model']} | {ra['backend']} | {ra['threads']} | {1e3 * pa:.1f} | "
            f"{1e3 * pb:.1f} | {pb / pa:.2f} | "
            f"{rb['throughput_bps'] / ra['throughput_bps']:.2f} |"
        )
    ea, eb = a["end_to_end"], b["end_to_end"]
    lines += [
        "",
        f"End-to-end RTF: A {ea['rtf']:.0f}, B {eb['rtf']:.0f} (B/A {eb['rtf'] / ea['rtf']:.2f}); "
        f"cold start: A {a['cold_start_s']:.3f} s, B {b['cold_start_s']:.3f} s; peak RSS: A "
        f"{a['peak_rss_mb']:.1f} MB, B {b['peak_rss_mb']:.1f} MB.",
    ]
    return "\n".join(lines) + "\n"
