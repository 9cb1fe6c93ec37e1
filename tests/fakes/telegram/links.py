"""How Telegram reads the href of an `<a>` tag (TDLib's LinkManager and parse_url).

`tg://user?id=N` is a mention of a user. Anything else is normalised to an http(s) (or tg/ton)
URL, or refused, in which case the link silently produces no entity. Without a scheme, `http://`
is assumed, so `example.com` becomes `http://example.com/`, and `mailto:a@b.org` becomes
`http://mailto:a@b.org/` (the text before `@` is read as user info).
"""

from __future__ import annotations

_URL_PART_CHARS = frozenset("._-!$,~*'();&+=")
_HEX = frozenset("0123456789abcdefABCDEF")


def link_user_id(url: str) -> int | None:
    """The user id of a `tg://user?id=N` link, else None."""
    rest = url.lower()
    if not rest.startswith("tg:"):
        return None
    rest = rest[3:]
    rest = rest.removeprefix("//")
    if not rest.startswith("user") or (len(rest) > 4 and rest[4] not in "/?#"):
        return None
    rest = rest[4:].removeprefix("/")
    if not rest.startswith("?"):
        return None
    query = rest[1:].split("#", 1)[0]
    for parameter in query.split("&"):
        key, _, value = parameter.partition("=")
        if key == "id":
            body = value[1:] if value.startswith("-") else value
            if not body.isascii() or not body.isdigit():
                return None
            number = int(value)
            return number if -(2**63) <= number < 2**63 else None
    return None


def checked_link(link: str) -> str | None:
    """The URL Telegram stores for a text link, or None if it rejects the link."""
    scheme = ""
    for prefix in ("tg:", "ton:", "tonsite:"):
        if link.lower().startswith(prefix):
            scheme = prefix[:-1]
            link = link[len(prefix) :].removeprefix("//")
            break
    parsed = _parse_url(link)
    if parsed is None:
        return None
    protocol, userinfo, host, port, query = parsed
    if scheme:
        if link.lower().startswith("http://") or protocol == "https" or userinfo or port:
            return None
        if query[1:2] == "?":
            query = query[1:]
        allowed_dot = scheme == "tonsite"
        if not all(
            c.isascii() and (c.isalnum() or c in "-_" or (allowed_dot and c == ".")) for c in host
        ):
            return None
        return f"{scheme}://{host}{query}"
    if "." not in host and not host.startswith("["):
        return None
    userinfo_part = f"{userinfo}@" if userinfo else ""
    port_part = f":{port}" if port else ""
    return f"{protocol}://{userinfo_part}{host}{port_part}{query}"


def _parse_url(url: str) -> tuple[str, str, str, int, str] | None:
    """(protocol, userinfo, host, explicit port or 0, query) like TDLib's parse_url, or None."""
    protocol = "http"
    head_end = next((i for i, c in enumerate(url) if c in ":/?#@[]"), len(url))
    if url[head_end : head_end + 3] == "://":
        protocol = url[:head_end].lower()
        if protocol not in ("http", "https"):
            return None
        url = url[head_end + 3 :]
    authority_end = next((i for i, c in enumerate(url) if c in "/?#"), len(url))
    authority, query = url[:authority_end], url[authority_end:]
    port = 0
    colon = len(authority) - 1
    while colon > 0 and authority[colon] not in ":]@":
        colon -= 1
    if colon > 0 and authority[colon] == ":":
        port_text = authority[colon + 1 :].lstrip("0") or "0"
        port = int(port_text) if port_text.isascii() and port_text.isdigit() else -1
        if port == 0:
            port = -1
        authority = authority[:colon]
    if not 0 <= port <= 65535:
        return None
    userinfo, _, host = authority.rpartition("@")
    if not host or host == ".":
        return None
    host = host.lower()
    if host.startswith("[") and host.endswith("]"):
        if not all(c in ":0123456789abcdef." for c in host[1:-1]):
            return None
    elif not _valid_part(host, allow_colon=False) or not _valid_part(userinfo, allow_colon=True):
        return None
    query = query.rstrip(" \t\r\n\x00\x0b") or "/"
    if not query.startswith("/"):
        query = "/" + query
    query = "".join(f"%{ord(c):02X}" if ord(c) <= 0x20 else c for c in query)
    return protocol, userinfo, host, port, query


def _valid_part(part: str, *, allow_colon: bool) -> bool:
    i = 0
    while i < len(part):
        c = part[i]
        if c == "%":
            if part[i + 1 : i + 2] not in _HEX or part[i + 2 : i + 3] not in _HEX:
                return False
            i += 3
            continue
        ok = (c.isascii() and c.isalnum()) or c in _URL_PART_CHARS or (allow_colon and c == ":")
        if not ok and ord(c) < 128:
            return False
        i += 1
    return True
