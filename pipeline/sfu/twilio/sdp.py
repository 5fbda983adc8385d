"""Reading twilio-video.js's descriptions, and making ours agree with them.

twilio-video.js negotiates one bundled peer connection. Within a BUNDLE group a payload type
must mean one codec and an extension id one URI, across every m-section, and neither may change
for a section already negotiated. aiortc numbers the sections it offers from its own tables, so
`align_offer` renumbers our offer with the numbers the client chose for the same codec and URI,
and drops what the client never offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CRLF = "\r\n"


@dataclass
class Section:
    kind: str
    mid: str | None = None
    track_id: str | None = None  # the second token of the first a=msid line
    direction: str = "sendrecv"
    lines: list[str] = field(default_factory=list)


def split(sdp: str) -> tuple[list[str], list[list[str]]]:
    """Session lines and each m-section's lines (CRLF or LF accepted)."""
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n") if line]
    session: list[str] = []
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
        else:
            session.append(line)
    return session, sections


def join(session: list[str], sections: list[list[str]]) -> str:
    return CRLF.join(session + [line for section in sections for line in section]) + CRLF


def sections(sdp: str) -> list[Section]:
    found = []
    for lines in split(sdp)[1]:
        section = Section(kind=lines[0][2:].split(" ", 1)[0], lines=lines)
        for line in lines[1:]:
            if line.startswith("a=mid:"):
                section.mid = line[6:].strip()
            elif line.startswith("a=msid:") and section.track_id is None:
                tokens = line[7:].split()
                if len(tokens) > 1:
                    section.track_id = tokens[1]
            elif line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive") and line.startswith("a="):
                section.direction = line[2:]
        found.append(section)
    return found


@dataclass(frozen=True)
class Codec:
    name: str  # lower case, e.g. "vp8", "rtx"
    clock_rate: int
    channels: str
    fmtp: dict[str, str]

    def key(self) -> tuple:
        if self.name == "h264":
            return (self.name, self.clock_rate, self.fmtp.get("packetization-mode", "0"),
                    self.fmtp.get("profile-level-id", "")[:2].lower())  # fmt: skip
        return (self.name, self.clock_rate, self.channels)


def _codecs(lines: list[str]) -> dict[int, Codec]:
    names: dict[int, tuple[str, int, str]] = {}
    fmtps: dict[int, dict[str, str]] = {}
    for line in lines:
        if match := re.match(r"a=rtpmap:(\d+) ([^/]+)/(\d+)(?:/(\d+))?", line):
            names[int(match[1])] = (match[2].lower(), int(match[3]), match[4] or "1")
        elif match := re.match(r"a=fmtp:(\d+) (.*)", line):
            fmtps[int(match[1])] = dict(
                (p.split("=", 1) + [""])[:2] for p in match[2].replace(" ", "").split(";") if p
            )
    return {pt: Codec(n, c, ch, fmtps.get(pt, {})) for pt, (n, c, ch) in names.items()}


def _extensions(lines: list[str]) -> dict[int, str]:
    found = {}
    for line in lines:
        if match := re.match(r"a=extmap:(\d+)(?:/\w+)? (\S+)", line):
            found[int(match[1])] = match[2]
    return found


def _client_numbering(client_sdp: str) -> tuple[dict[str, dict[tuple, int]], dict[str, int]]:
    """Per kind, codec key -> the client's payload type; URI -> the client's extension id."""
    payloads: dict[str, dict[tuple, int]] = {}
    extensions: dict[str, int] = {}
    for lines in split(client_sdp)[1]:
        kind = lines[0][2:].split(" ", 1)[0]
        codecs = _codecs(lines)
        table = payloads.setdefault(kind, {})
        for pt, codec in codecs.items():
            if codec.name == "rtx":
                base = codecs.get(int(codec.fmtp.get("apt", "-1")))
                if base is not None:
                    table.setdefault(("rtx", base.key()), pt)
            else:
                table.setdefault(codec.key(), pt)
        for number, uri in _extensions(lines).items():
            extensions.setdefault(uri, number)
    return payloads, extensions


def align_offer(offer: str, client_sdp: str) -> str:
    """Our offer renumbered with the client's payload types and extension ids."""
    payloads, extension_ids = _client_numbering(client_sdp)
    session, media = split(offer)
    aligned = []
    for lines in media:
        head = lines[0].split(" ")
        kind = head[0][2:]
        if kind not in ("audio", "video"):
            aligned.append(lines)
            continue
        codecs = _codecs(lines)
        table = payloads.get(kind, {})
        renumber: dict[int, int] = {}
        for pt, codec in codecs.items():
            if codec.name == "rtx":
                continue
            if codec.key() in table:
                renumber[pt] = table[codec.key()]
        for pt, codec in codecs.items():
            if codec.name == "rtx":
                base = codecs.get(int(codec.fmtp.get("apt", "-1")))
                if base is not None and int(codec.fmtp["apt"]) in renumber and ("rtx", base.key()) in table:
                    renumber[pt] = table[("rtx", base.key())]
        ids = {n: extension_ids[uri] for n, uri in _extensions(lines).items() if uri in extension_ids}
        out = [
            " ".join(
                head[:3] + [str(renumber[int(p)]) for p in head[3:] if p.isdigit() and int(p) in renumber]
            )
        ]
        for line in lines[1:]:
            if match := re.match(r"a=(rtpmap|fmtp|rtcp-fb):(\d+)(.*)", line):
                pt = int(match[2])
                if pt not in renumber:
                    continue
                rest = match[3]
                if match[1] == "fmtp":
                    rest = re.sub(r"apt=(\d+)", lambda m, r=renumber: f"apt={r.get(int(m[1]), m[1])}", rest)
                line = f"a={match[1]}:{renumber[pt]}{rest}"
            elif match := re.match(r"a=extmap:(\d+)(/\w+)? (\S+)(.*)", line):
                number = int(match[1])
                if number not in ids:
                    continue
                line = f"a=extmap:{ids[number]}{match[2] or ''} {match[3]}{match[4]}"
            out.append(line)
        aligned.append(out)
    return join(session, aligned)
