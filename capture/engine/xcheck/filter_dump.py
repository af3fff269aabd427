"""Dump what `capture.filterexpr` makes of a corpus of filter expressions, over the flows of
every bundled capture, for the Rust filter's cross-check (`tests/filter_xcheck.rs`).

    PYTHONPATH=. /work/refvenv/bin/python capture/engine/xcheck/filter_dump.py /tmp/filterdump.jsonl
    FILTER_XCHECK=/tmp/filterdump.jsonl cargo test --test filter_xcheck -- --nocapture

The corpus: hand-written expressions, every term with generated arguments and every
comparator, random combinations with and/or/not/parentheses, and random token soup with
noise characters (mostly errors). Seeded: the same corpus on every run.

Line 1: {"exprs": [{"text": ..., "ok": true} | {"text": ..., "error": str(err), "pos": ...}
| {"text": ..., "exception": "KeyError: ..."}]} (an exception other than FilterError is a
bug of the Python side the Rust port does not copy). Then one line per capture:
{"capture": name, "ids": [flow ids], "verdicts": ["0110...", ...]}: per compiled expression
(in order), one character per flow ("1" matches).

Every flow is tracked as `tests/captures.py` `track` does (frames_per_flow 64, `finish()`), and
gets process names from `PROCS` by its id, so `proc` has something to find (the Rust test sets
the same names).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from capture.decode import Decoder
from capture.filterexpr import CONN_STATES, FLAGS, STATES, FilterError, compile_filter
from capture.flows import FlowTracker
from capture.pcapio import CaptureError, open_capture
from capture.sources import decoded

ROOT = Path(__file__).resolve().parents[3]

# Process names by flow id (orig: id % 7, resp: (3 id + 1) % 7); None is no process.
PROCS = [None, "nginx", "Firefox Web Content", "sshd: root@pts/0", "ΣΊΣΥΦΟΣ", "İstanbul-K", "curl"]

HAND = [
    "",
    "   ",
    "port 80",
    "80",
    "port 6666",
    "port > 60000",
    "port >= 443",
    "port<1024",
    "port != 80",
    "port == 443",
    "port = 22",
    "host ::1",
    "host [::1]",
    "host 127.0.0.1",
    "host 2607:f8b0:400c:c03::1a",
    "host 10.0.2.15",
    "net 127.0.0.0/8",
    "net 10.3.0.0/16",
    "net 2000::/3",
    "net ::/0",
    "net 0.0.0.0/0",
    "net 10.2.0.0/15",
    "net 10.4.0.0/14",
    "net 192.168.1.0/25 or net 127.0.0.1/32",
    "net 192.168.1.128/25",
    "net 2607:f8b0:4000::/36",
    "net 2607:f8b0:4010::/44",
    "net ::1/128",
    "net 10.0.0.0/255.0.0.0",
    "net 0.0.0.0/0.0.0.0",
    "net 192.168.0.0/0.0.255.255",
    "net [2001:db8::]/32",
    "net ::ffff:0.0.0.0/96",
    "vlan 0",
    "vlan 1",
    "vlan 10",
    "flags ack",
    "flags rst",
    "flags synack",
    "FLAGS SYN and not flags synack",
    "retries > 0",
    "retries >= 3 && retries <= 3",
    "retrans > 0 and net 10.0.0.0/8",
    "proc nginx",
    "not port 80 and not port 6666",
    "!(port 80 || port 6666)",
    "not not port 25",
    "port 6666 or port 80 and host 127.0.0.1",
    "(port 6666 or port 80) and host 127.0.0.1",
    "port 80 && !host 127.0.0.1",
    "port 80 AND NOT vlan 0 OR host ::1",
    "id 2",
    "id 2,5-6 and port 6666",
    "id 1-999999999",
    "id 3,7,12-14",
    "id 1-4,9,11-12",
    "irtt>10ms&&!(port 80||host ::1)",
    "irtt > 10ms",
    "irtt > 250us",
    "irtt > 0.5s",
    "irtt > 1",
    "irtt >= 0s",
    "not irtt >= 0s",
    "irtt < .001",
    "irtt <= 5.",
    "irtt > ١٠ms",
    "irtt > 10MS",
    "irtt > 10Us",
    "duration > 1",
    "duration >= 0",
    "duration < 0.0001",
    "duration == 0",
    "pkts > 10",
    "pkts = 1",
    "bytes > 1000",
    "bytes == 0",
    "bytes != 0",
    "retrans >= 1",
    "conn REJ",
    "conn s0 and state syn_sent",
    "conn SF",
    "conn ſf",
    "state estab",
    "state syn-rcvd",
    "state SYN_RECV",
    "state Time-Wait",
    "state unknown",
    "pKts > 3",
    "proc NGINX and port 6666",
    "proc σ",
    "proc ς",
    "proc σύφος",
    "proc i̇stanbul",
    "proc k",
    "proc root@pts/0",
    "proc fire",
    "proc ,",
    "proc web",
    "port 0",
    "port 65535",
    "port " + "0" * 30 + "80",
    "retries > " + "9" * 60,
    "id 0-" + "9" * 60,
    "vlan 99999",
    "id 5-" + "0" * 40 + "5",
    "((port 80))",
    "( port 80 ) and ( not ( flags rst ) )",
    "port\u168080",
    "port\x1c80",
    "port 80\u3000",
    "port 80 \x1f",
]

ERRORS = [
    "port",
    "port x",
    "port 70000",
    "99999",
    "host",
    "host 300.1.1.1",
    "host foo",
    "net 10.0.0.1/8",
    "net banana",
    "state estab1ished",
    "conn S9",
    "flags syn-ack",
    "retries 3",
    "retries >",
    "retries > x",
    "irtt > 10m",
    "irtt > fast",
    "bogus 1",
    "port 80 port 443",
    "(port 80",
    "(port 80 80)",
    "port 80 and",
    "port 80 or or port 1",
    "port 80 )",
    "port 80 & port 1",
    "proc \x1b[31m",
    "not",
    "port ¹",
    "¹",
    "id ¹-2",
    "retries > ²",
    "id",
    "id x",
    "id 5-2",
    "id 3,,4",
    "id 1-",
    "id 1-2-3",
    "id -1",
    "net 1.2.3.4/",
    "net 1.2.3.4/33",
    "net ::1/64",
    "net 2001:DB8::1/32",
    "net ::ffff:1.2.3.4/64",
    "net 10.0.0.1/0.255.255.255",
    "net 10.0.0.0/255.0.255.0",
    "net 1.2.3/8",
    "net 01.2.3.4",
    "net 1:2:3:4:5:6:7:8:9",
    "net 1::2::3",
    "net :1::",
    "net 1::/129",
    "net 1::/+3",
    "net a/b/c",
    "net ]",
    "host 1.2.3.04",
    "host 1:2:3:4:5:6:7::",
    "host ::1.2.3.4",
    "host 1::2:3:4:5:6:7",
    "host [[::1]]",
    "host 12345::",
    "host ::g",
    "net [10.0.0.0/8]",
    "net 10.0.0.0/08",
    "net 10.0.0.0/008",
    "port > ",
    "port >",
    "port > 65536",
    "port >> 80",
    "irtt",
    "irtt >",
    "irtt > .",
    "irtt > 1.2.3",
    "irtt > 1e3",
    "irtt 10ms",
    "duration > -1",
    "pkts = ",
    "pkts => 3",
    "vlan x",
    "vlan",
    "flags",
    "flag bogus",
    "state",
    "conn",
    "proc",
    "port 80 and (",
    "()",
    ")",
    "(",
    "!",
    "!!",
    "&&",
    "||",
    "port 80 ||| port 1",
    "port 80 |",
    "port 80 &&& port 1",
    "port 80 == 1",
    "port == ",
    "== 80",
    "x" * 3,
    "PORT",
    "é",
    "port é",
    "port 80\u200b",
    "state Σ",
    "proc \u202e",
    "\u061c",
    "port 1 or\x7f",
    "port\x85x",
    "'port'",
    '"80"',
    "port 80;",
    "not not",
    "port 80 and not",
    "host 1.2.3.4%eth0",
    "host fe80::1%eth0",
    "net 10/8",
    "id 3,7,12-40,",
    "id ,",
    "id 1--2",
    "irtt > 10ms10",
    "irtt > 10 ms",
    "duration < 5 s",
    "port 80 or",
    "port 80 80",
    "80 80",
    "80 and 80 or",
    # Python raises other exceptions on these (KeyError, ValueError, RecursionError): recorded
    "irtt > 10ſ",
    "duration < 1mſ",
    "port " + "9" * 5000,
    "retries > " + "1" * 4400,
    "(" * 400 + "port 1" + ")" * 400,
    "not " * 1200 + "port 1",
]

PORT_ARGS = ["0", "22", "25", "53", "80", "443", "6666", "8080", "65535", "1024", "49152"]
HOST_ARGS = ["127.0.0.1", "::1", "10.0.2.15", "192.168.1.1", "2001:db8::1", "[::1]", "10.3.0.5"]
NET_ARGS = [
    "10.0.0.0/8",
    "127.0.0.0/8",
    "192.168.0.0/16",
    "172.16.0.0/12",
    "::/0",
    "fe80::/10",
    "2000::/3",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "10.0.0.0/9",
    "192.168.1.0/24",
    "::1/128",
]
COMPARATORS = [">", ">=", "<", "<=", "=", "==", "!="]
COUNT_VALUES = ["0", "1", "2", "3", "5", "10", "100", "1000", "65536"]
TIME_VALUES = ["0", "0s", "1ms", "10ms", "100ms", "250us", "1", "1.5s", "0.03", ".5", "5s", "60"]


def terms() -> list[str]:
    """Every term with generated arguments, every comparator on every numeric term."""
    out = [f"port {p}" for p in PORT_ARGS] + PORT_ARGS[:4]
    out += [f"port {c} {p}" for c in COMPARATORS for p in PORT_ARGS[::3]]
    out += [f"host {h}" for h in HOST_ARGS] + [f"net {n}" for n in NET_ARGS]
    out += [f"state {s.lower()}" for s in sorted(STATES)]
    out += [f"state {s.replace('_', '-').title()}" for s in sorted(STATES)]
    out += [f"conn {c}" for c in sorted(CONN_STATES)] + [f"conn {c.lower()}" for c in CONN_STATES]
    out += [f"flags {f}" for f in FLAGS] + [f"FLAG {f.upper()}" for f in FLAGS]
    out += [f"proc {p}" for p in ["nginx", "FIREFOX", "web content", "sshd:", "σίσυφος", "curl"]]
    out += [f"vlan {v}" for v in ["0", "1", "2", "10", "100", "200", "300", "4095"]]
    out += ["id 1", "id 2-4", "id 1,3,5,7", "id 10-20,30-40", "id 0"]
    for name in ["retries", "retrans", "pkts", "bytes"]:
        out += [f"{name} {c} {v}" for c in COMPARATORS for v in COUNT_VALUES]
    for name in ["irtt", "duration"]:
        out += [f"{name} {c} {v}" for c in COMPARATORS for v in TIME_VALUES]
    return sorted(set(out), key=out.index)


def combos(base: list[str], rng: random.Random, n: int) -> list[str]:
    """Random and/or/not/parenthesised combinations of terms."""

    def expr(depth: int) -> str:
        if depth == 0 or rng.random() < 0.3:
            return rng.choice(base)
        op = rng.choice(["and", "or", "&&", "||", "AND", "Or"])
        left, right = expr(depth - 1), expr(depth - 1)
        text = f"{left} {op} {right}"
        roll = rng.random()
        if roll < 0.25:
            text = f"({text})"
        elif roll < 0.4:
            text = f"not ({text})"
        elif roll < 0.5:
            text = f"!({text})"
        return text

    return [expr(3) for _ in range(n)]


WORDS = [
    "port",
    "host",
    "net",
    "state",
    "conn",
    "flags",
    "retries",
    "irtt",
    "proc",
    "and",
    "or",
    "not",
    "(",
    ")",
    "&&",
    "||",
    "!",
    ">",
    ">=",
    "==",
    "80",
    "10ms",
    "::1",
    "syn",
    "S0",
    "10.0.0.0/8",
    "established",
    "id",
    "1-3",
    ",",
    "vlan",
    "pkts",
    "bytes",
    "duration",
]
NOISE = [
    "ſ",
    "K",
    "١",
    "¹",
    "\x1c",
    "\u1680",
    "\u200b",
    "\x1b",
    "é",
    "Σ",
    "&",
    "|",
    "%",
    '"',
    "\t",
    " ",
    "\u3000",
    "\u202e",
    "\x7f",
    "[",
    "]",
    "-",
    "/",
    ".",
    ":",
    "=",
    "<",
    "9",
    "x",
    "\u0915\u093f",
]


def soup(rng: random.Random, n: int) -> list[str]:
    """Random token sequences with noise characters: mostly errors, some valid."""
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(0, 7))]
        noise = "".join(rng.choice(NOISE) for _ in range(rng.randint(0, 4)))
        text = " ".join(words)
        cut = rng.randint(0, len(text))
        out.append(text[:cut] + noise + text[cut:])
    return out


def corpus() -> list[str]:
    rng = random.Random(20261206)
    base = terms()
    exprs = HAND + ERRORS + base + combos(base, rng, 300) + soup(rng, 300)
    return sorted(set(exprs), key=exprs.index)


def flows_of(path: Path) -> list:
    """The capture's flows after `track`: frames_per_flow 64, finished, in id order."""
    reader = open_capture(str(path))
    tracker = FlowTracker(frames_per_flow=64)
    try:
        for seg in decoded(reader, Decoder()):
            tracker.ingest(seg)
    except CaptureError as exc:
        print(f"{path.name}: cut short: {exc}", file=sys.stderr)
    finally:
        reader.close()
    tracker.finish()
    flows = sorted(tracker.all_flows(), key=lambda f: f.id)
    for f in flows:
        f.proc_orig = PROCS[f.id % len(PROCS)]
        f.proc_resp = PROCS[(3 * f.id + 1) % len(PROCS)]
    return flows


def main() -> None:
    out = Path(sys.argv[1])
    exprs, preds = [], []
    for text in corpus():
        try:
            preds.append(compile_filter(text))
            exprs.append({"text": text, "ok": True})
        except FilterError as err:
            exprs.append({"text": text, "error": str(err), "pos": err.pos})
        except Exception as exc:  # noqa: BLE001 - Python-side bugs are recorded, not copied
            exprs.append({"text": text, "exception": f"{type(exc).__name__}: {exc}"[:200]})
    lines = [json.dumps({"exprs": exprs})]
    total = 0
    for golden in sorted((ROOT / "tests" / "golden").iterdir()):
        path = ROOT / "tests" / "data" / golden.name
        if not path.exists():
            continue
        try:
            flows = flows_of(path)
        except CaptureError as exc:
            print(f"skip {golden.name}: {exc}", file=sys.stderr)
            continue
        verdicts = ["".join("1" if p(f) else "0" for f in flows) for p in preds]
        total += len(flows) * len(preds)
        ids = [f.id for f in flows]
        lines.append(json.dumps({"capture": golden.name, "ids": ids, "verdicts": verdicts}))
    out.write_text("".join(line + "\n" for line in lines))
    errors = sum("error" in e for e in exprs)
    print(
        f"{out}: {len(exprs)} expressions ({len(preds)} compiled, {errors} errors, "
        f"{len(exprs) - len(preds) - errors} other exceptions), {len(lines) - 1} captures, "
        f"{total} verdicts",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
